"""`hatchdoit validate`: check config, planning repo, profiles and templates; run nothing."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.errors import EXIT_CONFIG, EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--specs", help="planning repo to check instead")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.cli.plan import taskspec_counts
    from hatchdoit.cli.validation import validate_project

    if args.specs:
        os.environ["HATCHDOIT_SPECS"] = str(Path(args.specs).absolute())
    project = project_of(args)
    result = validate_project(project)
    if result.view is not None:
        view = result.view
        print(
            f"planning repo view: {view['mode']} -> {view['resolved']}"
            + (" (writable: hatchdoit never writes there)" if view["writable"] else " (read-only)")
        )
    for line in result.problems:
        print(line, file=sys.stderr)
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    plan = project.plan
    for warning in plan.warnings:  # read anyway (a duplicated id in a foreign plan, ...)
        print(f"warning: {warning.one_line()}", file=sys.stderr)
    print(
        f"{project.specs_root}: {len(plan.featspecs)} FeatSpec(s), "
        f"{taskspec_counts(project)}, {len(result.problems)} problem(s)"
    )
    return EXIT_CONFIG if result.problems else EXIT_OK


COMMANDS = (
    Command(
        "validate",
        "Check hatchdoit.yaml, the planning repo, agent profiles and templates; run nothing.",
        run,
        arguments,
    ),
)
