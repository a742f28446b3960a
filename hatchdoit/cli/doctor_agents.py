"""doctor's checks of one agent profile: its CLI installed (which version), its hook contract
(Claude Code: hooks through --settings; Codex: `exec --json` and notify; the scripted agent: its
script; generic: a command), and whether credentials reach it (doctor_logins.py: which one its
sessions will use)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from hatchdoit.agents.profiles import LoadedProfile, merged_params
from hatchdoit.agents.setup import resolve_bin, validate_templates
from hatchdoit.cli.doctor_check import Check, Status, failed_check, run_tool, version_tuple
from hatchdoit.cli.doctor_logins import login_check
from hatchdoit.core.errors import HatchdoitError
from hatchdoit.providers.fault_tables import CLAUDE_CODE, CODEX, CliTable

CLAUDE_CHECKED = (2, 1, 0)  # hooks via --settings incl. StopFailure; tested with 2.1.330


def check_profile(
    loaded: LoadedProfile, used: bool, overrides: Mapping[str, object], environ: Mapping[str, str]
) -> list[Check]:
    profile = loaded.profile
    name = f"agent {profile.name}"
    bad: Status = "fail" if used else "skip"
    note = "" if used else " (not used by this project)"
    try:
        validate_templates(loaded, {k: "x" for k in _PLACEHOLDERS}, overrides)
    except HatchdoitError as exc:
        return [failed_check(name, bad, exc, note, where=False)]  # the profile's name says it
    params = merged_params(profile, overrides)
    version = ""
    try:
        binary = resolve_bin(loaded, environ)
    except HatchdoitError as exc:
        return [failed_check(name, bad, exc, note, where=False)]  # the profile's name says it
    if binary is not None and profile.executable is not None:
        code, out = run_tool([binary, *profile.executable.version_args])
        if code != 0:
            return [
                Check(
                    name,
                    bad,
                    f"{binary} does not run: {out[:200]}{note}",
                    profile.executable.install_hint,
                )
            ]
        version = out.splitlines()[0] if out else "?"
    what = f"{binary} {version}" if binary else f"{profile.prompt_delivery} prompt, no CLI to find"
    checks = [Check(name, "ok", what + note)]
    if profile.setup == "claude":
        checks += _claude_contract(name, version, params, environ, bad)
        checks.append(_fault_signals(name, CLAUDE_CODE, version))
    elif profile.setup == "codex":
        checks += _codex_contract(name, binary or "codex", environ, bad)
        checks.append(_fault_signals(name, CODEX, version))
    elif isinstance(params.get("command"), list) and params["command"]:
        command = str(params["command"][0])
        found = command if "{" in command else shutil.which(command, path=environ.get("PATH"))
        checks.append(
            Check(name, "ok", f"command: {found}")
            if found
            else Check(
                name, bad, f"command {command!r} not on PATH{note}", "install it or fix the path"
            )
        )
    elif profile.name == "scripted":
        script = loaded.path.parent / "scripted" / "scripted_agent.py"
        if not script.is_file():
            checks.append(Check(name, bad, f"{script} missing" + note, "reinstall hatchdoit"))
    return checks


def _claude_contract(
    name: str, version: str, params: Mapping[str, object], environ: Mapping[str, str], bad: Status
) -> list[Check]:
    checks = []
    if version_tuple(version) < CLAUDE_CHECKED:
        checks.append(
            Check(
                name,
                "warn",
                f"hooks (Stop, StopFailure, SessionEnd via --settings) were "
                f"checked with 2.1.330; this is {version}",
                "npm install -g @anthropic-ai/claude-code@latest",
            )
        )
    else:
        checks.append(
            Check(
                name,
                "ok",
                "hook contract: --settings hooks Stop, StopFailure, SessionEnd, SessionStart, "
                "UserPromptSubmit",
            )
        )
    checks += [c for c in [login_check(name, "claude", params, environ, bad)] if c]
    if params.get("skip_permissions") and os.geteuid() == 0 and environ.get("IS_SANDBOX") != "1":
        checks.append(
            Check(
                name,
                bad,
                "skip_permissions as root: Claude Code refuses --dangerously-skip-permissions",
                "run as a normal user, or export IS_SANDBOX=1 in a sandbox",
            )
        )
    return checks


def _fault_signals(name: str, table: CliTable, version: str) -> Check:
    """Whether the installed CLI is one its provider-fault table (providers/fault_tables.py) was
    checked against: another version may word a limit differently."""
    checked = ", ".join(table.checked)
    installed = version_tuple(version)
    if any(version_tuple(v) == installed for v in table.checked):
        return Check(name, "ok", f"provider-fault signals: checked with {table.cli} {checked}")
    return Check(
        name,
        "warn",
        f"provider-fault signals were checked with {table.cli} {checked}; this is {version}: "
        "a fault it words differently counts as an ordinary failed attempt",
        f"install {table.cli} {table.checked[-1]} (bash .ci/setup --test pins it), or report "
        "its messages so the table learns them",
    )


def _codex_contract(name: str, binary: str, environ: Mapping[str, str], bad: Status) -> list[Check]:
    checks = []
    code, out = run_tool([binary, "exec", "--help"])
    if code == 0 and "--json" not in out:
        checks.append(
            Check(name, bad, "`codex exec` has no --json", "npm install -g @openai/codex@latest")
        )
    else:
        checks.append(
            Check(name, "ok", "hook contract: exec --json, notify via -c (agent-turn-complete)")
        )
    checks += [c for c in [login_check(name, "codex", {}, environ, bad)] if c]
    return checks


_PLACEHOLDERS = (
    "python", "agents_dir", "scripts_dir", "role", "worktree", "prompt_file", "taskspec_id",
    "attempt", "bin", "settings_file", "logs_dir", "output_dir", "prompt_dir", "run_dir",
    "stream_log", "worktrees_root", "codex_notify", "codex_writable",
)  # fmt: skip
