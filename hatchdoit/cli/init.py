"""`hatchdoit init`: make the current git repo a hatchdoit project (cli/scaffold.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hatchdoit.cli.command import Command
from hatchdoit.core.errors import EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--specs", required=True, help="path of the planning repo")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.cli.scaffold import init_project

    for line in init_project(Path(args.root), Path(args.specs), force=args.force):
        print(line)
    return EXIT_OK


COMMANDS = (Command("init", "Make the current repo a hatchdoit project.", run, arguments),)
