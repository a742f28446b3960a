"""`hatchdoit report`: the self-contained HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path

from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.errors import EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output file (default _logs/report.html)")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.observe.metrics import write_metrics
    from hatchdoit.observe.report import write_report

    project = project_of(args)
    write_metrics(project)
    path = write_report(project, Path(args.out) if args.out else None)
    print(f"wrote {path}")
    return EXIT_OK


COMMANDS = (
    Command(
        "report",
        "Write the self-contained HTML report (default _logs/report.html).",
        run,
        arguments,
    ),
)
