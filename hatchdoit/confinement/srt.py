"""The sandbox that enforces a Policy: Anthropic's sandbox-runtime (`srt`: bubblewrap, a seccomp
filter that refuses new Unix sockets, and a filtering proxy on Linux; sandbox-exec on macOS),
pinned and installed into `~/.cache/hatchdoit/sandbox-runtime/<version>/` (install.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hatchdoit.confinement.hosts import registry_hosts
from hatchdoit.confinement.policy import Policy, protected_paths
from hatchdoit.core.atomicio import write_json_atomic

SRT_VERSION = "0.0.83"
SRT_PACKAGE = "@anthropic-ai/sandbox-runtime"
SRT_ENV = "HATCHDOIT_SRT"  # the srt binary to use instead of the pinned one (tests, packagers)


def cache_dir(version: str = SRT_VERSION) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hatchdoit" / "sandbox-runtime" / version


def srt_binary() -> Path:
    """$HATCHDOIT_SRT, else the pinned copy in the cache (which may not exist)."""
    override = os.environ.get(SRT_ENV)
    if override:
        return Path(override)
    return cache_dir() / "node_modules" / ".bin" / "srt"


def srt_settings(policy: Policy) -> dict[str, Any]:
    """srt's settings file for `policy`."""
    # srt refuses "*": where bubblewrap is not used directly (bwrap.py), `any` is the registries
    allowed = registry_hosts() if policy.any_host else list(policy.hosts)
    return {
        "network": {"allowedDomains": allowed, "deniedDomains": []},
        "filesystem": {
            # srt hides only what exists when it starts: the rest would only cost it time
            "denyRead": [p for p in policy.deny_read if os.path.lexists(p)],
            "allowRead": list(policy.allow_read),
            "allowWrite": [str(p) for p in policy.writable()],
            "denyWrite": [str(p) for p in protected_paths(policy.workspace)],
        },
    }


def write_settings(policy: Policy, path: Path) -> Path:
    """Write srt's settings for `policy` to `path` (mode 0600: it names the user's paths), and
    make srt's working directory beside it (launch_dir)."""
    for directory in (policy.temp_dir, policy.output_dir, policy.config_home):
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
    launch_dir(path).mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, srt_settings(policy))
    path.chmod(0o600)
    return path


def launch_dir(settings: Path) -> Path:
    """srt's own working directory. On Linux srt covers the shell and tool settings files that
    do not exist in its working directory (`.bashrc`, `.gitconfig`, `.vscode`, ...) with
    placeholders on the host for as long as it runs (for good, if it is killed); inside they are
    devices, on which `git add -A` fails. So srt runs in an empty directory of its own, and the
    command goes to its workspace inside."""
    return settings.with_name(settings.name + ".cwd")


def confined_argv(
    argv: list[str], policy: Policy, settings: Path, env: Mapping[str, str] | None = None
) -> list[str]:
    """argv run under srt with `settings`, in the policy's workspace, with `env` set inside
    (srt itself keeps the caller's TMPDIR: its bridge sockets' paths must stay short). srt lists
    the loopback addresses in NO_PROXY; where the policy allows a loopback host (a local API
    stand-in) they go through its proxy."""
    inner = [f"{name}={value}" for name, value in (env or {}).items()]
    if not policy.keep_no_proxy:
        inner = ["-u", "NO_PROXY", "-u", "no_proxy", *inner]
    outer: list[str] = []
    if sys.platform.startswith("linux"):
        outer = ["env", "-C", str(launch_dir(settings))]
        inner = ["-C", str(policy.workspace), *inner]
    if inner:
        inner = ["env", *inner]
    return [*outer, str(srt_binary()), "--settings", str(settings), "--", *inner, *argv]
