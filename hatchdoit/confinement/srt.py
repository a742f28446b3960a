"""The sandbox that enforces a Policy: Anthropic's sandbox-runtime (`srt`: bubblewrap, a seccomp
filter that refuses new Unix sockets, and a filtering proxy on Linux; sandbox-exec on macOS),
pinned and installed into `~/.cache/hatchdoit/sandbox-runtime/<version>/` (install.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hatchdoit.confinement.hosts import registry_hosts
from hatchdoit.confinement.policy import Policy
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
            "denyWrite": [],
        },
    }


def write_settings(policy: Policy, path: Path) -> Path:
    """Write srt's settings for `policy` to `path` (mode 0600: it names the user's paths)."""
    for directory in (policy.temp_dir, policy.output_dir, policy.config_home):
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, srt_settings(policy))
    path.chmod(0o600)
    return path


def confined_argv(
    argv: list[str], policy: Policy, settings: Path, env: Mapping[str, str] | None = None
) -> list[str]:
    """argv run under srt with `settings`, with `env` set inside (srt itself keeps the caller's
    TMPDIR: its bridge sockets' paths must stay short). srt lists the loopback addresses in
    NO_PROXY; where the policy allows a loopback host (a local API stand-in) they go through its
    proxy."""
    inner = [f"{name}={value}" for name, value in (env or {}).items()]
    if not policy.keep_no_proxy:
        inner = ["-u", "NO_PROXY", "-u", "no_proxy", *inner]
    if inner:
        inner = ["env", *inner]
    return [str(srt_binary()), "--settings", str(settings), "--", *inner, *argv]
