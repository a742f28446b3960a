"""`hatchdoit review <ID>` and `hatchdoit diff <ID>`: what an attempt changed and what was said
about it, paged through $PAGER on a terminal (observe/review_view.py)."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

from hatchdoit.cli.command import Command
from hatchdoit.cli.decide import _context
from hatchdoit.core.errors import EXIT_OK


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="the TaskSpec")
    parser.add_argument("--attempt", type=int, metavar="K", help="this attempt (default: the "
                        "approved one, else the latest)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="machine-readable")


def page(text: str) -> None:
    """Print `text`, through $PAGER when stdout is a terminal and one is set."""
    pager = os.environ.get("PAGER", "")
    if pager and sys.stdout.isatty():
        try:
            subprocess.run(shlex.split(pager), input=text, text=True, check=False)
            return
        except OSError:
            pass  # a pager that cannot run: print it as it is
    sys.stdout.write(text)


def run_review(args: argparse.Namespace) -> int:
    from hatchdoit.observe.review_view import collect_review, render_review

    ctx = _context(args)
    report = collect_review(ctx.project, ctx.tid, args.attempt)
    if args.json:
        print(report.model_dump_json(indent=2))
        return EXIT_OK
    page(render_review(report))
    return EXIT_OK


def run_diff(args: argparse.Namespace) -> int:
    from hatchdoit.observe.review_view import collect_review

    ctx = _context(args)
    report = collect_review(ctx.project, ctx.tid, args.attempt)
    if args.json:
        print(report.model_dump_json(indent=2, include={"taskspec_id", "attempt", "base",
                                                        "commit", "patch"}))  # fmt: skip
        return EXIT_OK
    page(report.patch)
    return EXIT_OK


COMMANDS = (
    Command(
        "review",
        "One screen about a TaskSpec: where it stands, the diff of its attempt's commit, the "
        "summary, checks and QA verdict, its decisions, and the commands that decide.",
        run_review,
        arguments,
    ),
    Command("diff", "The patch of a TaskSpec's attempt against its base.", run_diff, arguments),
)
