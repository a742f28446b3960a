"""`hatchdoit status`: where every TaskSpec stands, grouped by FeatSpec."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.collector import collector_paused
from hatchdoit.core.errors import EXIT_CONFIG, EXIT_OK, HatchdoitError

if TYPE_CHECKING:
    from hatchdoit.observe.status_models import RunnerClaim
    from hatchdoit.project import Project


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable")
    parser.add_argument("--schema", action="store_true", help="print the JSON Schema of --json")
    parser.add_argument(
        "--all",
        action="store_true",
        help="a row for every TaskSpec (by default, plans of over 60 TaskSpecs list only those "
        "neither done nor pending)",
    )
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="first fetch what CI runners sharing the build (`hatchdoit ci --shared`) pushed to "
        "integration.remote: their claims and records",
    )


def run(args: argparse.Namespace) -> int:
    from hatchdoit.observe.status_models import StatusReport
    from hatchdoit.observe.status_view import collect_status

    if args.schema:
        from hatchdoit.records.schemas import schema_for

        print(json.dumps(schema_for(StatusReport), indent=2))
        return EXIT_OK
    # A one-shot read of a big plan makes ~10^5 objects that all live until exit: the cycle
    # collector's passes over them free nothing and took ~5% of the command.
    project = project_of(args)
    if args.fetch:
        from hatchdoit.shared.visibility import fetch_shared

        why = fetch_shared(project)
        if why is not None:
            print(f"hatchdoit status --fetch: {why}", file=sys.stderr)
            return EXIT_CONFIG
    with collector_paused():
        report = collect_status(project)
        report.runners = _runners(project)
        if args.json:
            print(report.model_dump_json(indent=2))
            return EXIT_OK
        from hatchdoit.cli.console import PipeAwareConsole
        from hatchdoit.observe.status_render import render_status

        console = PipeAwareConsole()
        console.print(render_status(report, every=args.all or None))
        for claim in report.runners:
            console.print(
                f"{claim.taskspec_id}: held by runner {claim.runner} until {claim.until} "
                "(its clock)",
                highlight=False,
            )
        return EXIT_OK


def _runners(project: Project) -> list[RunnerClaim]:
    """The claims of runners sharing the build, as fetched last (none without a remote)."""
    from hatchdoit.shared.visibility import runner_claims

    try:
        return runner_claims(project)
    except HatchdoitError:
        return []


COMMANDS = (
    Command(
        "status",
        "Where every TaskSpec stands, grouped by FeatSpec (from the artifacts; read-only).",
        run,
        arguments,
    ),
)
