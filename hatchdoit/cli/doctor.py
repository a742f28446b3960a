"""`hatchdoit doctor`: can this machine run the project's agents? One line per check, with a fix.

Checks the tools (python, tmux, git, doit), the platform and what each feature uses there
(doctor_platform.py), the project's config and its planning-repo view,
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
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from hatchdoit.cli.command import Command

if TYPE_CHECKING:
    from hatchdoit.cli.doctor_check import Check


def run_doctor(
    root: Path, environ: Mapping[str, str], only: list[str] | None = None
) -> list[Check]:
    from hatchdoit.agents.profiles import first_found, load_profile, profile_names
    from hatchdoit.cli.doctor_agents import check_profile
    from hatchdoit.cli.doctor_budgets import check_budgets
    from hatchdoit.cli.doctor_check import failed_check
    from hatchdoit.cli.doctor_confinement import check_confinement
    from hatchdoit.cli.doctor_platform import check_platform
    from hatchdoit.cli.doctor_setup_tools import check_setup_tools
    from hatchdoit.cli.doctor_system import (
        check_install,
        check_project,
        check_scripts,
        check_tools,
    )
    from hatchdoit.cli.doctor_workspace import check as check_workspace
    from hatchdoit.config.workspace_models import ConfinementConfig
    from hatchdoit.core import bundled
    from hatchdoit.core.errors import HatchdoitError
    from hatchdoit.project import agents_search

    checks = check_tools() + check_platform()
    project_checks, used, config = check_project(root, environ)
    checks += project_checks
    scripts = bundled.SCRIPTS
    if config is not None and config.scripts_dir:
        scripts = (root / config.scripts_dir).resolve()
    checks += check_scripts(scripts)
    checks += check_setup_tools(config, environ)
    dirs = agents_search(root, config.agents_dir if config is not None else "agents")
    checks += check_install(root, dirs, scripts)
    checks += check_budgets(root, config, environ)  # under a budget: each profile's spend
    checks += check_workspace(root, environ)
    checks.append(check_confinement(config.confinement if config else ConfinementConfig()))
    # The bundled profiles and the ones the project uses: a user's agents dir may hold other
    # YAML of its own.
    bundled_names = set(profile_names([bundled.AGENTS]))
    names = sorted(bundled_names | {n for n in used if first_found(dirs, f"{n}.yaml").is_file()})
    for missing in sorted(used - set(names)):
        checks.append(
            Check(
                f"agent {missing}",
                "fail",
                f"no profile {missing}.yaml in {' or '.join(map(str, dirs))}",
                f"use one of {', '.join(profile_names(dirs))}",
            )
        )
    params = config.agent_params if config is not None else {}
    for profile_name in names:
        if only and profile_name not in only:
            continue
        try:
            loaded = load_profile(dirs, profile_name)
        except HatchdoitError as exc:
            checks.append(failed_check(f"agent {profile_name}", "fail", exc))
            continue
        checks += check_profile(loaded, profile_name in used, params.get(profile_name, {}), environ)
    return checks


MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "--  "}


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", action="append", help="check only this agent profile")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")


def run(args: argparse.Namespace) -> int:
    checks = run_doctor(Path(args.root).resolve(), os.environ, args.profile)
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


COMMANDS = (
    Command(
        "doctor",
        "Check agent CLIs, their hook contracts, tmux, git and the planning repo; say how to fix.",
        run,
        arguments,
    ),
)
