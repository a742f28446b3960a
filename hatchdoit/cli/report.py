"""`hatchdoit report`: the self-contained HTML report (and, with `--junit`, the JUnit file).

With `--fetch`, the records CI runners sharing the build pushed to the remote are brought in
first: the last job of a shared build writes one report and one JUnit file for all runners."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.errors import EXIT_CONFIG, EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output file (default _logs/report.html)")
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="first bring in what CI runners sharing the build pushed (`hatchdoit ci --shared`)",
    )
    parser.add_argument("--junit", metavar="PATH", help="also write JUnit XML of every TaskSpec")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.observe.metrics import write_metrics
    from hatchdoit.observe.report import write_report

    project = project_of(args)
    if args.fetch:
        from hatchdoit.shared.visibility import fetch_shared

        why = fetch_shared(project)
        if why is not None:
            print(f"hatchdoit report --fetch: {why}", file=sys.stderr)
            return EXIT_CONFIG
    write_metrics(project)
    path = write_report(project, Path(args.out) if args.out else None)
    print(f"wrote {path}")
    if args.junit:
        from hatchdoit.observe.junit import write_junit
        from hatchdoit.observe.outcomes import task_details
        from hatchdoit.observe.timeline import step_runs
        from hatchdoit.records.audit import read_audit

        details = task_details(project, step_runs(read_audit(project.layout.audit)))
        junit = Path(args.junit).absolute()
        write_junit(junit, list(details.values()), project.root, "hatchdoit")
        print(f"wrote {junit}")
    return EXIT_OK


COMMANDS = (
    Command(
        "report",
        "Write the self-contained HTML report (default _logs/report.html); --junit PATH too; "
        "--fetch: with the records of CI runners sharing the build.",
        run,
        arguments,
    ),
)
