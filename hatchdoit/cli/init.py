"""`hatchdoit init`: make the current git repo a hatchdoit project (cli/scaffold.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hatchdoit.cli.command import Command
from hatchdoit.core.errors import EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--specs", required=True, help="path of the planning repo")
    parser.add_argument(
        "--agent",
        metavar="PROFILE",
        help="the agent profile of both roles (default: the first agent CLI installed: "
        "claude-code, then codex; `scripted` is the bundled agent of the demo and tests)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rewrite hatchdoit.yaml and doit.cfg, and add hatchdoit's two lines to an existing "
        "dodo.py, each after showing the diff",
    )


def run(args: argparse.Namespace) -> int:
    from hatchdoit.cli.scaffold import init_project

    done = init_project(
        Path(args.root), Path(args.specs), os.environ, agent=args.agent, force=args.force
    )
    for line in done:
        print(line)
    return EXIT_OK


COMMANDS = (Command("init", "Make the current repo a hatchdoit project.", run, arguments),)
