"""`hatchdoit` command line: validate, plan, status, watch, review, diff, approve, reject, retry,
reset, logs, metrics, report, ci, config-doc, schemas, init, doctor. `doit` itself runs the
build.

Exit codes: 0 ok, 1 failed, 2 configuration or planning errors, 3 unexpected, 130 interrupted,
141 the reader of our output went away (`hatchdoit status --json | head`): like a program killed
by SIGPIPE in a shell (128 + 13), quietly, so a cut-short output is never taken for a whole one.
"""

from __future__ import annotations

import argparse
import os
import sys

from hatchdoit import __version__
from hatchdoit.cli import (
    ci,
    config_doc,
    confinement,
    decide,
    doctor,
    gc,
    init,
    logs,
    metrics,
    plan,
    report,
    review,
    schemas,
    status,
    validate,
    watch,
)
from hatchdoit.cli.command import Command
from hatchdoit.cli.console import EXIT_BROKEN_PIPE, stdout_reader_gone
from hatchdoit.core.errors import EXIT_INTERRUPTED, EXIT_UNEXPECTED, HatchdoitError

# The commands in the order `hatchdoit --help` lists them; a new command is a module in this
# folder defining COMMANDS, and one entry here.
COMMANDS: dict[str, Command] = {
    command.name: command
    for module in (
        validate,
        plan,
        status,
        watch,
        review,
        decide,
        logs,
        metrics,
        report,
        ci,
        config_doc,
        schemas,
        init,
        doctor,
        confinement,
        gc,
    )
    for command in module.COMMANDS
}


def build_parser() -> argparse.ArgumentParser:
    first_paragraph = " ".join((__doc__ or "").split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="hatchdoit", description=first_paragraph)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--root", default=".", help="project root (holds dodo.py)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=command.help, description=command.help)
        if command.arguments is not None:
            command.arguments(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(COMMANDS[args.command].run(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the flush at interpreter exit
        return code
    except BrokenPipeError as exc:
        if not stdout_reader_gone():
            return _unexpected(exc)
        # Nothing more can be written; pointing stdout at /dev/null keeps the interpreter's own
        # flush at exit from failing again (Python's docs, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except HatchdoitError as exc:
        print(f"hatchdoit: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hatchdoit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one place unexpected errors are reported
        return _unexpected(exc)


def _unexpected(exc: Exception) -> int:
    print(f"hatchdoit: unexpected error: {exc!r} (please report it)", file=sys.stderr)
    return EXIT_UNEXPECTED
