"""bubblewrap directly, for a command whose network is all or nothing (a test command under
`test_network: none` or `any`): srt cannot say "any host" (it refuses `*`), and where no host is
to be reached its proxy and node start-up cost ~0.3 s per run for nothing. The rules are the
Policy's, as srt applies them: the whole tree read-only, the writable paths bound back, denied
directories hidden under an empty tmpfs and denied files under /dev/null, `allow_read` bound
back over them; new namespaces for everything (the network too, for `none`); and srt's own
seccomp helper (`apply-seccomp`, pinned with it) refusing new Unix sockets, user namespaces and
mounts inside. Linux only; None where it cannot be had (srt is used then)."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from hatchdoit.confinement.policy import Policy, protected_paths
from hatchdoit.confinement.srt import srt_binary

_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def seccomp_helper() -> Path | None:
    """srt's `apply-seccomp` for this machine, from the pinned package; None if absent."""
    arch = _ARCH.get(platform.machine().lower())
    srt = srt_binary()
    if arch is None or not srt.exists():
        return None
    package = srt.resolve().parent.parent  # <package>/dist/cli.js
    helper = package / "vendor" / "seccomp" / arch / "apply-seccomp"
    return helper if os.access(helper, os.X_OK) else None


def bwrap_argv(
    argv: list[str], policy: Policy, env: Mapping[str, str] | None = None, *, proxied: bool = False
) -> list[str] | None:
    """argv confined by bubblewrap under `policy`, or None where this backend cannot apply
    (not Linux, no bwrap or helper, or a policy with a host list: that needs a proxy; with
    `proxied` the caller brings one, direct.py, and the network namespace stays empty)."""
    bwrap, helper = shutil.which("bwrap"), seccomp_helper()
    if not sys.platform.startswith("linux") or bwrap is None or helper is None:
        return None
    if policy.hosts and not policy.any_host and not proxied:
        return None
    if any(set(entry) & set("*?[") for entry in (*policy.deny_read, *policy.allow_read)):
        return None  # a pattern: srt expands those
    out = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for path in policy.writable():
        if not path.exists():
            path.mkdir(parents=True)
        out += ["--bind", str(path), str(path)]
    for path in protected_paths(policy.workspace):
        out += ["--ro-bind", str(path), str(path)]
    for entry in policy.deny_read:
        path = Path(entry)
        if path.is_dir() and not path.is_symlink():
            out += ["--tmpfs", str(path)]
            if not any(w.is_relative_to(path) for w in policy.writable()):
                out += ["--remount-ro", str(path)]  # else a writable path is bound below it
        elif path.exists():
            out += ["--ro-bind", "/dev/null", str(path.resolve())]
    if policy.emptied:  # a regular file: a device bound there is refused (nodev), git fails
        empty = policy.temp_dir.parent / "empty"
        empty.touch()
        for entry in policy.emptied:
            out += ["--ro-bind", str(empty), entry]
    for entry in policy.allow_read:
        if Path(entry).exists():
            out += ["--ro-bind", entry, entry]
    hidden = [Path(e) for e in policy.deny_read if Path(e).is_dir()]
    for path in policy.writable():  # a writable path under a hidden directory (a config home)
        if any(path.is_relative_to(d) for d in hidden):
            out += ["--bind", str(path), str(path)]
    out += ["--unshare-all", *(["--share-net"] if policy.any_host and not proxied else [])]
    out += ["--die-with-parent", "--new-session"]
    for name, value in (env or {}).items():
        out += ["--setenv", name, value]
    return [*out, "--", str(helper), *argv]
