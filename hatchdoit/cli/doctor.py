"""`hatchdoit doctor`: can this machine run the project's agents? One line per check, with a fix.

Checks the tools (python, tmux, git, doit), the project's config and its planning-repo view,
hatchdoit's own hook scripts, and every agent profile in the agents directory: whether its CLI is
installed (and which version), whether its hook contract can be met (Claude Code: hooks through
--settings; Codex: `exec --json` and notify; the scripted agent: its script; generic: a command),
and whether credentials reach it. A problem with a profile the project does not use is reported
but is not a failure. Exit code: 0 no failures (warnings allowed), 1 failures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from hatchdoit.agent_setup import resolve_bin, validate_templates
from hatchdoit.config import CONFIG_FILE, HatchdoitConfig, load_config
from hatchdoit.errors import HatchdoitError
from hatchdoit.mount import ensure_view
from hatchdoit.planning import load_plan
from hatchdoit.profiles import LoadedProfile, load_profile, merged_params
from hatchdoit.project import find_resources

Status = Literal["ok", "warn", "fail", "skip"]
CLAUDE_CHECKED = (2, 1, 0)  # hooks via --settings incl. StopFailure; tested with 2.1.330
CLAUDE_AUTH = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
)
CODEX_AUTH = ("OPENAI_API_KEY", "CODEX_API_KEY")
HOOK_SCRIPTS = ("stop_hook.sh", "marker_hook.sh", "launch_agent.sh")


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def _failed(
    name: str, status: Status, exc: HatchdoitError, note: str = "", where: bool = True
) -> Check:
    """A check that an error ended: where (the file and field) and what went wrong, its fix."""
    return Check(name, status, (exc.located() if where else exc.message) + note, exc.fix or "")


def _run(argv: list[str], timeout: float = 30.0) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout or done.stderr).strip()


def version_tuple(text: str) -> tuple[int, ...]:
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in found.groups() if g is not None) if found else ()


def check_tools() -> list[Check]:
    checks = []
    py = sys.version.split()[0]
    ok_py = sys.version_info >= (3, 11)
    checks.append(Check("python", "ok" if ok_py else "fail", py, "" if ok_py else "use 3.11+"))
    for tool, argv, minimum, fix in (
        ("tmux", ["tmux", "-V"], (3, 0), "apt-get install tmux (3.0 or newer)"),
        ("git", ["git", "--version"], (2, 20), "apt-get install git (2.20 or newer)"),
    ):
        code, out = _run(argv)
        if code != 0:
            checks.append(Check(tool, "fail", "not installed", fix))
        elif version_tuple(out) < minimum:
            checks.append(Check(tool, "fail", out, fix))
        else:
            checks.append(Check(tool, "ok", out))
    code, out = _run(
        [sys.executable, "-c", "import importlib.metadata as m; print(m.version('doit'))"]
    )
    checks.append(
        Check("doit", "ok", f"doit {out}")
        if code == 0
        else Check("doit", "fail", "not importable", "pip install 'doit>=0.37,<0.38'")
    )
    return checks


def check_project(
    root: Path, environ: Mapping[str, str]
) -> tuple[list[Check], set[str], HatchdoitConfig | None]:
    """Config and planning-repo view; also the profile names the project uses."""
    checks: list[Check] = []
    if not (root / CONFIG_FILE).exists() and not (root / "dodo.py").exists():
        checks.append(
            Check(
                "project",
                "warn",
                f"{root} is not a hatchdoit project",
                "hatchdoit init --specs PATH",
            )
        )
    try:
        config = load_config(root, environ)
    except HatchdoitError as exc:
        checks.append(_failed("config", "fail", exc))
        return checks, set(), None
    source = root / CONFIG_FILE if (root / CONFIG_FILE).is_file() else f"no {CONFIG_FILE}: defaults"
    agents = f"factory {config.agents.factory}, qa {config.agents.qa}"
    checks.append(Check("config", "ok", f"{source} ({agents})"))
    used = {config.agents.factory, config.agents.qa}
    specs = (root / config.specs).absolute()
    try:
        script = find_resources(root) / "scripts" / "mount" / "ensure_readonly_mount.sh"
        view = ensure_view(script, specs)
        detail = f"{specs} -> {view.get('resolved')} ({view.get('mode')})"
        if view.get("writable"):
            checks.append(
                Check("planning repo", "ok", detail + ", writable (hatchdoit only reads)")
            )
        else:
            checks.append(Check("planning repo", "ok", detail + ", read-only"))
    except HatchdoitError as exc:
        checks.append(_failed("planning repo", "fail", exc))
        return checks, used, config
    plan = load_plan(specs)
    for loaded in plan.taskspecs.values():
        agent = getattr(loaded.spec, "agent", None)
        used.update(
            name for name in (getattr(agent, "factory", None), getattr(agent, "qa", None)) if name
        )
    if plan.errors:
        checks.append(
            Check(
                "planning repo", "warn", f"{len(plan.errors)} spec problem(s)", "hatchdoit validate"
            )
        )
    return checks, used, config


def check_scripts(resources: Path) -> list[Check]:
    checks = []
    for name in HOOK_SCRIPTS:
        path = resources / "scripts" / "agent" / name
        if not os.access(path, os.X_OK):
            checks.append(
                Check(
                    f"script {name}",
                    "fail",
                    f"{path} missing or not executable",
                    f"chmod +x {path}",
                )
            )
    code, out = _run([sys.executable, "-c", "import hatchdoit.stop_hook, hatchdoit.headless"])
    if code != 0:
        checks.append(
            Check(
                "stop hook",
                "fail",
                out.splitlines()[-1] if out else "import failed",
                f"pip install hatchdoit into {sys.executable}",
            )
        )
    else:
        checks.append(Check("stop hook", "ok", f"{sys.executable} -m hatchdoit.stop_hook"))
    return checks


def _has_any(environ: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if environ.get(n)), None)


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
        return [_failed(name, bad, exc, note, where=False)]  # the profile's name says it
    params = merged_params(profile, overrides)
    version = ""
    try:
        binary = resolve_bin(loaded, environ)
    except HatchdoitError as exc:
        return [_failed(name, bad, exc, note, where=False)]  # the profile's name says it
    if binary is not None and profile.executable is not None:
        code, out = _run([binary, *profile.executable.version_args])
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
    elif profile.setup == "codex":
        checks += _codex_contract(name, binary or "codex", environ, bad)
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
    auth = _has_any(environ, CLAUDE_AUTH)
    user_home = str(params.get("config_home", "run")) == "user"
    if auth:
        where = environ.get("ANTHROPIC_BASE_URL") or "the Anthropic API"
        checks.append(Check(name, "ok", f"credentials: {auth} passed through to {where}"))
    elif user_home:
        checks.append(
            Check(name, "ok", "credentials: your own Claude config home (config_home: user)")
        )
    else:
        checks.append(
            Check(
                name,
                "warn" if bad == "fail" else "skip",
                "no ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / CLAUDE_CODE_OAUTH_TOKEN "
                "in the environment",
                "export one of them (`claude setup-token` makes an OAuth token), or set "
                "agent_params.<profile>.config_home: user to use your own login",
            )
        )
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


def _codex_contract(name: str, binary: str, environ: Mapping[str, str], bad: Status) -> list[Check]:
    checks = []
    code, out = _run([binary, "exec", "--help"])
    if code == 0 and "--json" not in out:
        checks.append(
            Check(name, bad, "`codex exec` has no --json", "npm install -g @openai/codex@latest")
        )
    else:
        checks.append(
            Check(name, "ok", "hook contract: exec --json, notify via -c (agent-turn-complete)")
        )
    codex_home = Path(environ.get("CODEX_HOME") or Path.home() / ".codex")
    auth = _has_any(environ, CODEX_AUTH) or (
        "auth.json" if (codex_home / "auth.json").is_file() else None
    )
    if auth:
        checks.append(Check(name, "ok", f"credentials: {auth}"))
    else:
        checks.append(
            Check(
                name,
                "warn" if bad == "fail" else "skip",
                "no OPENAI_API_KEY / CODEX_API_KEY and no codex login",
                "export OPENAI_API_KEY, or run `codex login`",
            )
        )
    return checks


_PLACEHOLDERS = (
    "python", "agents_dir", "scripts_dir", "role", "worktree", "prompt_file", "taskspec_id",
    "attempt", "bin", "settings_file", "logs_dir", "output_dir", "prompt_dir", "run_dir",
    "stream_log", "worktrees_root", "codex_notify", "codex_writable",
)  # fmt: skip


def run_doctor(
    root: Path, environ: Mapping[str, str], only: list[str] | None = None
) -> list[Check]:
    checks = check_tools()
    project_checks, used, config = check_project(root, environ)
    checks += project_checks
    try:
        resources = find_resources(root)
    except HatchdoitError as exc:
        return [*checks, _failed("resources", "fail", exc)]
    checks += check_scripts(resources)
    agents_dir = root / "agents" if (root / "agents").is_dir() else resources / "agents"
    names = sorted(p.stem for p in agents_dir.glob("*.yaml"))
    for missing in sorted(used - set(names)):
        checks.append(
            Check(
                f"agent {missing}",
                "fail",
                f"no {agents_dir / missing}.yaml",
                f"use one of {', '.join(names)}",
            )
        )
    params = config.agent_params if config is not None else {}
    for profile_name in names:
        if only and profile_name not in only:
            continue
        try:
            loaded = load_profile(agents_dir, profile_name)
        except HatchdoitError as exc:
            checks.append(_failed(f"agent {profile_name}", "fail", exc))
            continue
        checks += check_profile(loaded, profile_name in used, params.get(profile_name, {}), environ)
    return checks


MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "--  "}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hatchdoit doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: .)")
    parser.add_argument("--profile", action="append", help="check only this agent profile")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    checks = run_doctor(args.root.resolve(), os.environ, args.profile)
    failures = sum(c.status == "fail" for c in checks)
    warnings = sum(c.status == "warn" for c in checks)
    if args.json:
        print(
            json.dumps(
                {"checks": [asdict(c) for c in checks], "failures": failures, "warnings": warnings},
                indent=2,
            )
        )
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            fix = (
                f"\n{'':{width + 8}}fix: {c.fix}" if c.fix and c.status in ("fail", "warn") else ""
            )
            print(f"{MARK[c.status]}  {c.name:{width}}  {c.detail}{fix}")
        print(f"doctor: {failures} failure(s), {warnings} warning(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
