"""`hatchdoit metrics`: per step and agent, runs, outcomes, durations, attempts, tokens, cost."""

from __future__ import annotations

import argparse

from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.errors import EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print metrics.json")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.core.atomicio import read_json
    from hatchdoit.observe.metrics import summary_lines, write_metrics

    project = project_of(args)
    paths = write_metrics(project)
    if args.json:
        print(paths[0].read_text(encoding="utf-8"), end="")
        return EXIT_OK
    for line in summary_lines(read_json(paths[0])):
        print(line)
    for path in paths:
        print(f"wrote {project.layout.rel(path)}")
    return EXIT_OK


COMMANDS = (
    Command(
        "metrics",
        "Write _logs/metrics.json and _logs/metrics.prom and print a summary (or the JSON): "
        "per step and per agent profile runs, outcomes and durations, attempts per TaskSpec, "
        "tokens, cost.",
        run,
        arguments,
    ),
)
