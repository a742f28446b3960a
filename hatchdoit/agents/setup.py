"""Per-session set-up of an agent CLI: the placeholders, environment and files one launch needs.

What is the same for every CLI is here: the placeholders, the variables a profile passes through
(`env_passthrough`: auth such as ANTHROPIC_API_KEY; session_env.py makes the rest of a
session's environment), the executable, the rendered argv. What a CLI needs besides is its own
module, named by the profile's `setup:` in CLI_SETUPS: claude.py (a --settings file with hooks,
a config home), codex.py (notify and the writable output directory as -c overrides, a CODEX_HOME);
the user's login reaches both config homes through logins.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatchdoit.agents import claude, codex
from hatchdoit.agents.profiles import (
    LoadedProfile,
    merged_params,
    param_values,
    render,
    render_argv,
)
from hatchdoit.agents.session_env import passthrough_env
from hatchdoit.core.errors import ConfigError


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


# profile `setup:` -> what that CLI's sessions need besides the generic part (one module per CLI)
CliSetup = Callable[
    [SessionPaths, Mapping[str, Any], Mapping[str, str], dict[str, str], dict[str, str]], None
]
CLI_SETUPS: dict[str, CliSetup] = {"claude": claude.prepare, "codex": codex.prepare}


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
    cli_setup = CLI_SETUPS.get(profile.setup)
    if cli_setup is not None:
        cli_setup(paths, params, environ, all_values, env)
    if profile.setup != "none":
        paths.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        out_dir.mkdir(parents=True, exist_ok=True)  # an --add-dir that does not exist is ignored
    argv = render_argv(profile, all_values, params, loaded.path)
    return SessionSetup(values=all_values, env=env, argv=argv)


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
