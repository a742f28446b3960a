"""The environment of an agent session: made by hatchdoit, handed over in a file.

A session starts with exactly this environment, not the tmux server's (which keeps the
environment of whichever build started it): launch_agent.sh starts over from an empty
environment, exports the entries of a file only this user can read, and deletes the file. So no
value, a credential least of all, is ever on a command line (`/proc/*/cmdline` is readable by
every local user).

The base is hatchdoit's own environment without what must not reach an agent: hatchdoit's
configuration variables (HATCHDOIT_*), tmux's and the shell's own, and every variable whose name
says it holds a credential (..._KEY, ..._TOKEN, ..._SECRET, ..._PASSWORD); a profile's
`env_passthrough` brings back the ones its CLI needs (ANTHROPIC_API_KEY for Claude Code).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from pathlib import Path

from hatchdoit.core.logs import looks_secret

# Never from hatchdoit's environment: its own settings, the terminal's (tmux sets them for the
# pane) and the shell's bookkeeping (wrong in another directory and process).
NEVER_PASSED = ("HATCHDOIT_*", "CLAUDE_CONFIG_DIR", "TMUX", "TMUX_PANE", "TERM")
SHELL_OWN = ("PWD", "OLDPWD", "SHLVL", "_")


def _matches(name: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def passthrough_env(patterns: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` named by `patterns` (NAME or PREFIX*), never hatchdoit's own."""
    return {
        name: value
        for name, value in environ.items()
        if _matches(name, patterns) and not _matches(name, NEVER_PASSED)
    }


def base_env(environ: Mapping[str, str]) -> dict[str, str]:
    """hatchdoit's environment as every session gets it: no credentials, nothing of its own."""
    return {
        name: value
        for name, value in environ.items()
        if not _matches(name, NEVER_PASSED) and name not in SHELL_OWN and not looks_secret(name)
    }


def write_env_file(path: Path, env: Mapping[str, str]) -> Path:
    """Write `env` as NUL-separated NAME=VALUE entries to a new file of mode 0600 (a file left
    there by an interrupted launch is replaced); launch_agent.sh --env-file reads and deletes
    it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)
    data = b"".join(f"{name}={value}".encode() + b"\0" for name, value in env.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def workspace_env(
    env: Mapping[str, str], dirs: list[Path], venv: Path | None, own: bool
) -> dict[str, str]:
    """`env` as a workspace's commands see it: `dirs` first on PATH; when the workspace has an
    environment of its own (`own`: a setup is configured or it has a venv), the user's own
    VIRTUAL_ENV and its bin leave PATH, and VIRTUAL_ENV names `venv` where there is one (so a
    worktree's tests import the worktree's code, not the main checkout's)."""
    out = dict(env)
    parts = [p for p in out.get("PATH", "").split(os.pathsep) if p]
    if own:
        user_venv = out.pop("VIRTUAL_ENV", None)
        if user_venv:
            user_bin = os.path.normpath(os.path.join(user_venv, "bin"))
            parts = [p for p in parts if os.path.normpath(p) != user_bin]
        if venv is not None:
            out["VIRTUAL_ENV"] = str(venv)
    first = [str(d) for d in dirs]
    out["PATH"] = os.pathsep.join(first + [p for p in parts if p not in first])
    return out
