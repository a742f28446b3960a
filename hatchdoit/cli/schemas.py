"""`hatchdoit schemas`: the JSON Schemas of every spec, config and artifact record."""

from __future__ import annotations

import argparse
from pathlib import Path

from hatchdoit.cli.command import Command
from hatchdoit.core.errors import EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="_logs/schemas", help="output directory")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.records.schemas import export_schemas

    for path in export_schemas(Path(args.out)):
        print(path)
    return EXIT_OK


COMMANDS = (
    Command(
        "schemas",
        "Write the JSON Schemas of every spec, config and artifact record.",
        run,
        arguments,
    ),
)
