"""Per-session set-up of real agent CLIs: the placeholders, environment and files one launch needs.

`setup: claude` (Claude Code, interactive or `-p`):
- a `--settings` file under the run's directory with hatchdoit's hooks: SessionStart writes the
  ready marker, UserPromptSubmit counts submitted prompts, Stop / StopFailure / SessionEnd call
  scripts/agent/stop_hook.sh (which may block a stop without a summary, see hatchdoit.stop_hook);
- a config home of the run's own (`CLAUDE_CONFIG_DIR`, its `.claude.json`) that pre-answers the
  first-run onboarding, the folder-trust dialog for the worktree, the bypass-permissions
  confirmation (only with `skip_permissions`) and the "use this API key?" question. The user's own
  `~/.claude` and `~/.claude.json` are never read or written. With `config_home: user` the
  user's config home is used as it is (nothing is seeded).
`setup: codex` (`codex exec`): notify wired to stop_hook.sh (`agent-turn-complete`, JSON payload
as the last argument) and the summary/verdict directory made writable in the sandbox, both as
`-c key=value` overrides: the user's `~/.codex/config.toml` is not touched.

Every setup passes the profile's `env_passthrough` variables from hatchdoit's environment (auth
such as ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / ANTHROPIC_BASE_URL), so a tmux server started
earlier with another environment cannot hand a session stale credentials.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatchdoit.atomicio import read_json, write_json_atomic
from hatchdoit.errors import ConfigError
from hatchdoit.profiles import LoadedProfile, merged_params, param_values, render, render_argv
from hatchdoit.waiting import DirWatch, wait_until

HOOK_TIMEOUT_S = 120
NEVER_PASSED = ("HATCHDOIT_*", "CLAUDE_CONFIG_DIR", "TMUX", "TMUX_PANE")


@dataclass(frozen=True)
class SessionPaths:
    """Where one agent run keeps its files."""

    run_dir: Path  # _logs/sessions/<ID>/<role>-00k: settings, config home, notes
    worktree: Path
    logs_dir: Path
    scripts_dir: Path
    stream_log: Path  # the headless runner's copy of the CLI's JSON lines


@dataclass(frozen=True)
class SessionSetup:
    values: dict[str, str]  # placeholders for argv and env templates
    env: dict[str, str]  # variables for the session on top of hatchdoit's own
    argv: list[str]


def passthrough_env(patterns: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` named by `patterns` (NAME or PREFIX*), never hatchdoit's own."""
    out = {}
    for name, value in environ.items():
        if any(fnmatch.fnmatchcase(name, p) for p in NEVER_PASSED):
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            out[name] = value
    return out


def resolve_bin(loaded: LoadedProfile, environ: Mapping[str, str]) -> str | None:
    """The agent CLI's executable: `$<executable.env>` if set, else its default on PATH."""
    exe = loaded.profile.executable
    if exe is None:
        return None
    override = environ.get(exe.env) if exe.env else None
    if override:
        if not os.access(override, os.X_OK):
            raise ConfigError(
                f"{exe.env}={override} is not an executable file",
                path=loaded.path,
                fix=f"point {exe.env} at the {exe.default} binary",
            )
        return override
    found = shutil.which(exe.default, path=environ.get("PATH"))
    if found is None:
        hint = exe.install_hint or f"install {exe.default}"
        via = f" or set {exe.env}" if exe.env else ""
        raise ConfigError(
            f"{exe.default!r} is not on PATH (profile {loaded.profile.name})",
            path=loaded.path,
            fix=f"{hint}{via}; `hatchdoit doctor` checks every profile",
        )
    return found


def output_dir(role: str, extra_env: Mapping[str, str], logs_dir: Path) -> Path:
    """The directory the agent must write into: the summary's (factory) or the verdict's (qa)."""
    key = "HATCHDOIT_SUMMARY_FILE" if role == "factory" else "HATCHDOIT_VERDICT_FILE"
    value = extra_env.get(key)
    return Path(value).parent if value else logs_dir


def prepare_session(
    loaded: LoadedProfile,
    *,
    values: dict[str, str],
    overrides: Mapping[str, Any],
    paths: SessionPaths,
    extra_env: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
) -> SessionSetup:
    """Write the run's files for the profile's `setup`; return placeholders, env and argv.

    `values` are _launch's placeholders; `overrides` are hatchdoit.yaml's agent_params for the
    profile. A profile without `setup`, `executable`, `params` and `options` (the scripted agent)
    gets exactly its rendered argv and no extra environment.
    """
    environ = os.environ if environ is None else environ
    profile = loaded.profile
    params = merged_params(profile, overrides)
    role = values.get("role", "factory")
    out_dir = output_dir(role, extra_env, paths.logs_dir)
    all_values = {
        **values,
        **param_values(params),
        "logs_dir": str(paths.logs_dir),
        "output_dir": str(out_dir),
        "prompt_dir": str(Path(values.get("prompt_file", str(paths.logs_dir / "x"))).parent),
        "run_dir": str(paths.run_dir),
        "stream_log": str(paths.stream_log),
        "worktrees_root": str(paths.worktree.parent),
    }
    binary = resolve_bin(loaded, environ)
    if binary is not None:
        all_values["bin"] = binary
    env = passthrough_env(profile.env_passthrough, environ)
    if profile.stop_guard:
        env["HATCHDOIT_STOP_GUARD"] = str(profile.stop_guard)
    if profile.setup == "claude":
        all_values["settings_file"] = str(write_claude_settings(paths))
        if str(params.get("config_home", "run")) != "user":
            trusted = [paths.worktree, out_dir, Path(all_values["prompt_dir"])]
            home = seed_claude_home(paths, trusted, params, environ)
            env["CLAUDE_CONFIG_DIR"] = str(home)
        elif environ.get("CLAUDE_CONFIG_DIR"):
            env["CLAUDE_CONFIG_DIR"] = environ["CLAUDE_CONFIG_DIR"]
    elif profile.setup == "codex":
        all_values["codex_notify"] = "notify=" + toml_array(
            [str(paths.scripts_dir / "agent" / "stop_hook.sh"), "agent-turn-complete"]
        )
        all_values["codex_writable"] = "sandbox_workspace_write.writable_roots=" + toml_array(
            [str(out_dir)]
        )
    if profile.setup != "none":
        paths.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        out_dir.mkdir(parents=True, exist_ok=True)  # an --add-dir that does not exist is ignored
    argv = render_argv(profile, all_values, params, loaded.path)
    return SessionSetup(values=all_values, env=env, argv=argv)


def toml_array(items: list[str]) -> str:
    """A TOML array of basic strings (JSON string escapes are valid TOML escapes)."""
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


# ----------------------------------------------------------------------------------------------
# Claude Code


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


# ----------------------------------------------------------------------------------------------
# Readiness of a TUI


def screen_ready(
    capture: Callable[[], str | None],
    pattern: str,
    *,
    wake_dir: Path,
    timeout: float,
    poll: float,
) -> bool:
    """Wait until the captured screen matches `pattern` (True), the session is gone or time is up
    (False). Pane output lands in the pipe-pane log in `wake_dir`, so inotify wakes each check."""
    regex = re.compile(pattern, re.MULTILINE)

    def check() -> bool | None:
        screen = capture()
        if screen is None:
            return False
        return True if regex.search(screen) else None

    with DirWatch(wake_dir) as watch:
        return bool(wait_until(check, watch=watch, timeout=timeout, poll=poll))


def validate_templates(
    loaded: LoadedProfile, values: dict[str, str], overrides: Mapping[str, Any]
) -> None:
    """Render every template of the profile once (for doctor): unknown placeholders and
    required parameters that are not set raise ConfigError."""
    profile = loaded.profile
    params = merged_params(profile, overrides)
    render_argv(profile, {**values, **param_values(params)}, params, loaded.path)
    for template in profile.env.values():
        render(template, {**values, **param_values(params)}, loaded.path)
