"""`hatchdoit logs`: the JSON-lines logs of every component, merged, filtered, followed."""

from __future__ import annotations

import argparse
import sys

from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.errors import EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument("--taskspec", metavar="ID", help="only lines about this TaskSpec")
    parser.add_argument("--level", help="minimum level: DEBUG, INFO, WARN, ERROR, CRITICAL")
    parser.add_argument(
        "--component",
        action="append",
        metavar="C",
        help="orchestrator, factory, qa, hooks or errors (repeatable; default all but errors)",
    )
    parser.add_argument("--json", action="store_true", help="raw JSON lines")
    parser.add_argument("-n", "--lines", type=int, metavar="N", help="only the last N lines")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.observe.logview import make_filter, show_logs

    project = project_of(args)
    log_filter = make_filter(args.taskspec, args.level, args.component or [])

    def out(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:
        return show_logs(
            project.layout.logs,
            log_filter,
            lines=args.lines,
            as_json=args.json,
            follow_on=args.follow,
            out=out,
        )
    except KeyboardInterrupt:  # the normal end of `logs -f`
        return EXIT_OK


COMMANDS = (
    Command(
        "logs",
        "The JSON-lines logs of every component, merged and filtered; -f follows them.",
        run,
        arguments,
    ),
)
