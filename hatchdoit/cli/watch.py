"""`hatchdoit watch`: a live dashboard of the build."""

from __future__ import annotations

import argparse

from hatchdoit.cli.command import Command, positive, project_of


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="draw one frame and exit")
    parser.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="exit when the build we saw running ends (at once if everything is settled)",
    )
    parser.add_argument("--tick", type=positive, default=1.0, help="redraw at least every S s")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.cli.console import PipeAwareConsole
    from hatchdoit.observe.watch import run_watch

    return run_watch(
        project_of(args),
        once=args.once,
        exit_when_idle=args.exit_when_idle,
        tick=args.tick,
        console=PipeAwareConsole(),
    )


COMMANDS = (
    Command(
        "watch",
        "A live dashboard: TaskSpecs, running steps, agent sessions (with attach commands), "
        "events.",
        run,
        arguments,
    ),
)
