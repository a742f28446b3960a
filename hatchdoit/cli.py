"""`hatchdoit` command line: validate, status, schemas, init. `doit` itself runs the build.

Exit codes: 0 ok, 1 failed, 2 configuration or planning errors, 3 unexpected, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hatchdoit import __version__
from hatchdoit.errors import (
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    HatchdoitError,
)
from hatchdoit.mount import ensure_view
from hatchdoit.project import load_project
from hatchdoit.scaffold import init_project
from hatchdoit.schemas import export_schemas
from hatchdoit.state import update_state


def cmd_validate(args: argparse.Namespace) -> int:
    """Check hatchdoit.yaml, the planning repo, agent profiles and templates; run nothing."""
    if args.specs:
        os.environ["HATCHDOIT_SPECS"] = str(Path(args.specs).absolute())
    project = load_project(Path(args.root))
    errors = [e.one_line() for e in project.plan.errors]
    try:
        view = ensure_view(project.script("mount", "ensure_readonly_mount.sh"), project.specs_root)
        print(
            f"planning repo view: {view['mode']} -> {view['resolved']}"
            + (" (writable: hatchdoit never writes there)" if view["writable"] else " (read-only)")
        )
    except HatchdoitError as exc:
        errors.append(exc.one_line())
    for tid in project.plan.taskspecs:
        try:
            project.digest(tid)  # loads both profiles and every template
        except HatchdoitError as exc:
            errors.append(exc.one_line())
    for line in dict.fromkeys(errors):
        print(line, file=sys.stderr)
    plan = project.plan
    print(
        f"{project.specs_root}: {len(plan.featspecs)} FeatSpec(s), "
        f"{len(plan.taskspecs)} buildable TaskSpec(s), {len(errors)} problem(s)"
    )
    return EXIT_CONFIG if errors else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Where every TaskSpec stands, from its artifacts."""
    project = load_project(Path(args.root))
    state = update_state(project)
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
        return EXIT_OK
    table = Table(title=f"hatchdoit: {project.specs_root}")
    for column in ("FeatSpec", "TaskSpec", "status", "step", "attempt", "next"):
        table.add_column(column)
    for tid, entry in state["taskspecs"].items():
        table.add_row(
            entry["featspec"],
            tid,
            entry["status"],
            entry["step"],
            str(entry["attempt"]),
            str(entry.get("next", "")),
        )
    console = Console()
    console.print(table)
    for fid, roll in state["featspecs"].items():
        console.print(f"{fid}: {roll['status']} ({roll.get('done', 0)}/{roll['total']} done)")
    return EXIT_OK


def cmd_schemas(args: argparse.Namespace) -> int:
    """Write the JSON Schemas of every spec, config and artifact record."""
    for path in export_schemas(Path(args.out)):
        print(path)
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    """Make the current repo a hatchdoit project."""
    for line in init_project(Path(args.root), Path(args.specs), force=args.force):
        print(line)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hatchdoit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--root", default=".", help="project root (holds dodo.py)")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, tuple[Callable[[argparse.Namespace], int], str | None]] = {
        "validate": (cmd_validate, cmd_validate.__doc__),
        "status": (cmd_status, cmd_status.__doc__),
        "schemas": (cmd_schemas, cmd_schemas.__doc__),
        "init": (cmd_init, cmd_init.__doc__),
    }
    parsers = {}
    for name, (func, doc) in commands.items():
        parsers[name] = sub.add_parser(name, help=doc, description=doc)
        parsers[name].set_defaults(func=func)
    parsers["validate"].add_argument("--specs", help="planning repo to check instead")
    parsers["status"].add_argument("--json", action="store_true", help="machine-readable")
    parsers["schemas"].add_argument("--out", default="_logs/schemas", help="output directory")
    parsers["init"].add_argument("--specs", required=True, help="path of the planning repo")
    parsers["init"].add_argument("--force", action="store_true", help="overwrite existing files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except HatchdoitError as exc:
        print(f"hatchdoit: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hatchdoit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one place unexpected errors are reported
        print(f"hatchdoit: unexpected error: {exc!r} (please report it)", file=sys.stderr)
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
