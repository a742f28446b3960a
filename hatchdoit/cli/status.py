"""`hatchdoit status`: where every TaskSpec stands, grouped by FeatSpec."""

from __future__ import annotations

import argparse
import json

from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.collector import collector_paused
from hatchdoit.core.errors import EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable")
    parser.add_argument("--schema", action="store_true", help="print the JSON Schema of --json")
    parser.add_argument(
        "--all",
        action="store_true",
        help="a row for every TaskSpec (by default, plans of over 60 TaskSpecs list only those "
        "neither done nor pending)",
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
    with collector_paused():
        report = collect_status(project_of(args))
        if args.json:
            print(report.model_dump_json(indent=2))
            return EXIT_OK
        from hatchdoit.cli.console import PipeAwareConsole
        from hatchdoit.observe.status_render import render_status

        PipeAwareConsole().print(render_status(report, every=args.all or None))
        return EXIT_OK


COMMANDS = (
    Command(
        "status",
        "Where every TaskSpec stands, grouped by FeatSpec (from the artifacts; read-only).",
        run,
        arguments,
    ),
)
