"""Codex (`codex exec`): notify wired to scripts/agent/stop_hook.sh (`agent-turn-complete`, the
JSON payload as the last argument) and the summary/verdict directory made writable in the sandbox,
both as `-c key=value` overrides: the user's `~/.codex/config.toml` is not touched. The session's
CODEX_HOME is the run's own (`codex-home` in the run directory) holding the user's login and
config.toml (agents/logins.py); with `config_home: user` it is the user's."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatchdoit.agents.logins import link_codex_home

if TYPE_CHECKING:
    from hatchdoit.agents.setup import SessionPaths


def prepare(
    paths: SessionPaths,
    params: Mapping[str, Any],
    environ: Mapping[str, str],
    values: dict[str, str],
    env: dict[str, str],
) -> None:
    """The `{codex_notify}` and `{codex_writable}` placeholders of the codex profile's argv."""
    values["codex_notify"] = "notify=" + toml_array(
        [str(paths.scripts_dir / "agent" / "stop_hook.sh"), "agent-turn-complete"]
    )
    values["codex_writable"] = "sandbox_workspace_write.writable_roots=" + toml_array(
        [values["output_dir"]]
    )
    codex_home(paths, params, environ, env)
    if not params.get("bypass_sandbox"):
        codex_temp(paths, env)


def codex_temp(paths: SessionPaths, env: dict[str, str]) -> None:
    """TMPDIR: the run's own `tmp`. Codex's bubblewrap sandbox execs its helper by the name
    `codex-linux-sandbox`, an alias Codex links at start-up under CODEX_HOME and puts on PATH;
    it refuses to make it when CODEX_HOME lies inside the temp dir (a project under /tmp), and
    then no sandboxed command can start. The run's temp dir never holds CODEX_HOME. Only with
    Codex's own sandbox on: confined, Codex's is off and hatchdoit's sets this TMPDIR inside
    (srt itself must keep the caller's short one for its sockets)."""
    paths.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = paths.run_dir / "tmp"
    temp.mkdir(exist_ok=True, mode=0o700)
    env["TMPDIR"] = str(temp)


def codex_home(
    paths: SessionPaths, params: Mapping[str, Any], environ: Mapping[str, str], env: dict[str, str]
) -> None:
    """CODEX_HOME: the run's own, seeing the user's login (`config_home: run`), or the user's."""
    if str(params.get("config_home", "run")) == "user":
        return
    home = paths.run_dir / "codex-home"
    link_codex_home(home, environ)
    env["CODEX_HOME"] = str(home)


def toml_array(items: list[str]) -> str:
    """A TOML array of basic strings (JSON string escapes are valid TOML escapes)."""
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def confinement_needs(environ: Mapping[str, str]) -> tuple[list[Path], list[str]]:
    """What a confined Codex needs besides its workspace: its CODEX_HOME writable (its sessions
    and login live there: `~/.codex` unless CODEX_HOME says otherwise) and the base URLs of the
    model providers its config.toml names (their hosts are allowed)."""
    home = Path(environ.get("CODEX_HOME") or Path(environ.get("HOME", "~")).expanduser() / ".codex")
    urls: list[str] = []
    try:
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    providers = config.get("model_providers")
    for provider in providers.values() if isinstance(providers, dict) else ():
        if isinstance(provider, dict) and isinstance(provider.get("base_url"), str):
            urls.append(provider["base_url"])
    return [home], urls
