"""Claude Code (interactive TUI or `claude -p`): what one session needs besides its argv.

- a `--settings` file under the run's directory with hatchdoit's hooks: SessionStart writes the
  ready marker, UserPromptSubmit counts submitted prompts, Stop / StopFailure / SessionEnd call
  scripts/agent/stop_hook.sh (which may block a stop without a summary, see agents/stop_guard.py);
- a config home of the run's own (`CLAUDE_CONFIG_DIR`, its `.claude.json`) that pre-answers the
  first-run onboarding, the folder-trust dialog for the worktree, the bypass-permissions
  confirmation (only with `skip_permissions`) and the "use this API key?" question. Of the user's
  own `~/.claude` and `~/.claude.json` it sees only the login (agents/logins.py: the CLI's
  credential store is pointed at the user's config dir, nothing is copied). With
  `config_home: user` the user's config home is used as it is (nothing is seeded).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatchdoit.agents.logins import claude_login_env
from hatchdoit.core.atomicio import read_json, write_json_atomic

if TYPE_CHECKING:
    from hatchdoit.agents.setup import SessionPaths

HOOK_TIMEOUT_S = 120


def prepare(
    paths: SessionPaths,
    params: Mapping[str, Any],
    environ: Mapping[str, str],
    values: dict[str, str],
    env: dict[str, str],
) -> None:
    """Write the session's settings file and config home; add their placeholders and variables."""
    values["settings_file"] = str(write_claude_settings(paths))
    if str(params.get("config_home", "run")) != "user":
        trusted = [paths.worktree, Path(values["output_dir"]), Path(values["prompt_dir"])]
        home = seed_claude_home(paths, trusted, params, environ)
        env["CLAUDE_CONFIG_DIR"] = str(home)
        claude_login_env(environ, env)
    elif environ.get("CLAUDE_CONFIG_DIR"):
        env["CLAUDE_CONFIG_DIR"] = environ["CLAUDE_CONFIG_DIR"]


def claude_settings(scripts_dir: Path) -> dict[str, Any]:
    """The hooks block of a `--settings` file (commands are quoted paths, no TaskSpec text)."""
    marker = str(scripts_dir / "agent" / "marker_hook.sh")
    stop = str(scripts_dir / "agent" / "stop_hook.sh")

    def hook(*argv: str) -> list[dict[str, Any]]:
        command = {"type": "command", "command": shlex.join(argv), "timeout": HOOK_TIMEOUT_S}
        return [{"hooks": [command]}]

    return {
        "hooks": {
            "SessionStart": hook(marker, "ready"),
            "UserPromptSubmit": hook(marker, "submitted"),
            "Stop": hook(stop, "Stop"),
            "StopFailure": hook(stop, "StopFailure"),
            "SessionEnd": hook(stop, "SessionEnd"),
        }
    }


def write_claude_settings(paths: SessionPaths) -> Path:
    paths.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = paths.run_dir / "claude-settings.json"
    write_json_atomic(settings, claude_settings(paths.scripts_dir))
    return settings


def seed_claude_home(
    paths: SessionPaths,
    trusted: list[Path],
    params: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Path:
    """The run's config home: `.claude.json` answering the start-up dialogs before they ask
    (folder trust for `trusted`: the worktree and the --add-dir output directory).

    A relaunch of the same run keeps what Claude Code wrote there and re-applies the answers."""
    home = paths.run_dir / "claude-home"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    config_file = home / ".claude.json"
    try:
        loaded = read_json(config_file)
        state: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        state = {}
    state["hasCompletedOnboarding"] = True
    state.setdefault("numStartups", 1)
    projects = state.setdefault("projects", {})
    for folder in {str(f) for f in trusted} | {os.path.realpath(f) for f in trusted}:
        entry = projects.setdefault(folder, {})
        entry.update(hasTrustDialogAccepted=True, hasCompletedProjectOnboarding=True)
    if params.get("skip_permissions"):
        state["bypassPermissionsModeAccepted"] = True
    key = environ.get("ANTHROPIC_API_KEY")
    if key:
        # Claude Code remembers an approved key by its last 20 characters.
        responses = state.setdefault("customApiKeyResponses", {"approved": [], "rejected": []})
        approved = responses.setdefault("approved", [])
        if key[-20:] not in approved:
            approved.append(key[-20:])
        responses["rejected"] = [k for k in responses.get("rejected", []) if k != key[-20:]]
    write_json_atomic(config_file, state)
    config_file.chmod(0o600)
    return home
