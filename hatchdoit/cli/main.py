"""`hatchdoit` command line: validate, status, watch, logs, metrics, report, ci, config-doc,
schemas, init. `doit` itself runs the build.

Exit codes: 0 ok, 1 failed, 2 configuration or planning errors, 3 unexpected, 130 interrupted,
141 the reader of our output went away (`hatchdoit status --json | head`): like a program killed
by SIGPIPE in a shell (128 + 13), quietly, so a cut-short output is never taken for a whole one.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from hatchdoit import __version__
from hatchdoit.collector import collector_paused
from hatchdoit.errors import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    HatchdoitError,
)
from hatchdoit.project import Project, load_project

Command = Callable[[argparse.Namespace], int]
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a program killed by it


class PipeAwareConsole(Console):
    """rich's Console, but a closed pipe goes to main's one handler instead of rich's own
    `SystemExit(1)`."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def _project(args: argparse.Namespace) -> Project:
    return load_project(Path(args.root))


def cmd_validate(args: argparse.Namespace) -> int:
    """Check hatchdoit.yaml, the planning repo, agent profiles and templates; run nothing."""
    from hatchdoit.validation import validate_project

    if args.specs:
        os.environ["HATCHDOIT_SPECS"] = str(Path(args.specs).absolute())
    project = _project(args)
    result = validate_project(project)
    if result.view is not None:
        view = result.view
        print(
            f"planning repo view: {view['mode']} -> {view['resolved']}"
            + (" (writable: hatchdoit never writes there)" if view["writable"] else " (read-only)")
        )
    for line in result.problems:
        print(line, file=sys.stderr)
    plan = project.plan
    print(
        f"{project.specs_root}: {len(plan.featspecs)} FeatSpec(s), "
        f"{len(plan.taskspecs)} buildable TaskSpec(s), {len(result.problems)} problem(s)"
    )
    return EXIT_CONFIG if result.problems else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Where every TaskSpec stands, grouped by FeatSpec (from the artifacts; read-only)."""
    from hatchdoit.status_view import StatusReport, collect_status

    if args.schema:
        from hatchdoit.schemas import schema_for

        print(json.dumps(schema_for(StatusReport), indent=2))
        return EXIT_OK
    # A one-shot read of a big plan makes ~10^5 objects that all live until exit: the cycle
    # collector's passes over them free nothing and took ~5% of the command.
    with collector_paused():
        report = collect_status(_project(args))
        if args.json:
            print(report.model_dump_json(indent=2))
            return EXIT_OK
        from hatchdoit.status_render import render_status

        PipeAwareConsole().print(render_status(report, every=args.all or None))
        return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    """A live dashboard: TaskSpecs, running steps, agent sessions (with attach commands), events."""
    from hatchdoit.watch import run_watch

    return run_watch(
        _project(args),
        once=args.once,
        exit_when_idle=args.exit_when_idle,
        tick=args.tick,
        console=PipeAwareConsole(),
    )


def cmd_logs(args: argparse.Namespace) -> int:
    """The JSON-lines logs of every component, merged and filtered; -f follows them."""
    from hatchdoit.logview import make_filter, show_logs

    project = _project(args)
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


def cmd_metrics(args: argparse.Namespace) -> int:
    """Write _logs/metrics.json and _logs/metrics.prom and print a summary (or the JSON): per
    step and per agent profile runs, outcomes and durations, attempts per TaskSpec, tokens, cost."""
    from hatchdoit.atomicio import read_json
    from hatchdoit.metrics import summary_lines, write_metrics

    project = _project(args)
    paths = write_metrics(project)
    if args.json:
        print(paths[0].read_text(encoding="utf-8"), end="")
        return EXIT_OK
    for line in summary_lines(read_json(paths[0])):
        print(line)
    for path in paths:
        print(f"wrote {project.layout.rel(path)}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write the self-contained HTML report (default _logs/report.html)."""
    from hatchdoit.metrics import write_metrics
    from hatchdoit.report import write_report

    project = _project(args)
    write_metrics(project)
    path = write_report(project, Path(args.out) if args.out else None)
    print(f"wrote {path}")
    return EXIT_OK


def cmd_ci(args: argparse.Namespace) -> int:
    """Build until nothing is left or what is left escalated; write JUnit (_logs/junit.xml unless
    --junit), metrics, report. Exit 0 all done, 1 some escalated or failed, 2 configuration or
    planning errors."""
    from hatchdoit.ci import CiOptions, parse_shard, run_ci

    options = CiOptions(
        shard=parse_shard(args.shard) if args.shard else None,
        jobs=args.jobs,
        junit=Path(args.junit).absolute() if args.junit else None,
        report=Path(args.report).absolute() if args.report else None,
        max_runs=args.max_runs,
    )
    return run_ci(_project(args), options, say=lambda line: print(line, flush=True))


def cmd_config_doc(args: argparse.Namespace) -> int:
    """Print (or write, or check) the configuration reference generated from the model."""
    from hatchdoit.config_doc import config_reference

    if args.profiles:
        from hatchdoit.config_doc import profile_reference

        text = profile_reference()
    else:
        text = config_reference()
    if args.check:
        current = Path(args.check).read_text(encoding="utf-8") if Path(args.check).exists() else ""
        if current != text:
            print(f"{args.check} is out of date: run hatchdoit config-doc --out {args.check}")
            return EXIT_FAILED
        return EXIT_OK
    if args.out:
        from hatchdoit.atomicio import write_atomic

        write_atomic(Path(args.out), text)
        print(f"wrote {args.out}")
        return EXIT_OK
    print(text, end="")
    return EXIT_OK


def cmd_schemas(args: argparse.Namespace) -> int:
    """Write the JSON Schemas of every spec, config and artifact record."""
    from hatchdoit.schemas import export_schemas

    for path in export_schemas(Path(args.out)):
        print(path)
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    """Make the current repo a hatchdoit project."""
    from hatchdoit.scaffold import init_project

    for line in init_project(Path(args.root), Path(args.specs), force=args.force):
        print(line)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check agent CLIs, their hook contracts, tmux, git and the planning repo; say how to fix."""
    argv = ["--root", str(args.root)]
    for name in args.profile or []:
        argv += ["--profile", name]
    if args.json:
        argv.append("--json")
    from hatchdoit import doctor

    return doctor.main(argv)


COMMANDS: dict[str, Command] = {
    "validate": cmd_validate,
    "status": cmd_status,
    "watch": cmd_watch,
    "logs": cmd_logs,
    "metrics": cmd_metrics,
    "report": cmd_report,
    "ci": cmd_ci,
    "config-doc": cmd_config_doc,
    "schemas": cmd_schemas,
    "init": cmd_init,
    "doctor": cmd_doctor,
}


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _add_arguments(parsers: dict[str, argparse.ArgumentParser]) -> None:
    parsers["validate"].add_argument("--specs", help="planning repo to check instead")
    status = parsers["status"]
    status.add_argument("--json", action="store_true", help="machine-readable")
    status.add_argument("--schema", action="store_true", help="print the JSON Schema of --json")
    status.add_argument(
        "--all",
        action="store_true",
        help="a row for every TaskSpec (by default, plans of over 60 TaskSpecs list only those "
        "neither done nor pending)",
    )
    watch = parsers["watch"]
    watch.add_argument("--once", action="store_true", help="draw one frame and exit")
    watch.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="exit when the build we saw running ends (at once if everything is settled)",
    )
    watch.add_argument("--tick", type=_positive, default=1.0, help="redraw at least every S s")
    logs = parsers["logs"]
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--taskspec", metavar="ID", help="only lines about this TaskSpec")
    logs.add_argument("--level", help="minimum level: DEBUG, INFO, WARN, ERROR, CRITICAL")
    logs.add_argument(
        "--component",
        action="append",
        metavar="C",
        help="orchestrator, factory, qa, hooks or errors (repeatable; default all but errors)",
    )
    logs.add_argument("--json", action="store_true", help="raw JSON lines")
    logs.add_argument("-n", "--lines", type=int, metavar="N", help="only the last N lines")
    parsers["metrics"].add_argument("--json", action="store_true", help="print metrics.json")
    parsers["report"].add_argument("--out", help="output file (default _logs/report.html)")
    ci = parsers["ci"]
    ci.add_argument("--shard", metavar="K/N", help="build the K-th of N stable subsets")
    ci.add_argument(
        "--junit",
        metavar="PATH",
        help="JUnit XML, one test case per TaskSpec (default _logs/junit.xml)",
    )
    ci.add_argument("-n", "--jobs", type=int, default=0, metavar="N", help="doit -n N")
    ci.add_argument("--report", metavar="PATH", help="HTML report (default _logs/report.html)")
    ci.add_argument("--max-runs", type=int, default=5, help="doit runs at most (default 5)")
    doc = parsers["config-doc"]
    doc.add_argument("--out", help="write to this file instead of stdout")
    doc.add_argument("--check", metavar="PATH", help="exit 1 if PATH is not up to date")
    doc.add_argument("--profiles", action="store_true", help="the agent profile fields instead")
    parsers["schemas"].add_argument("--out", default="_logs/schemas", help="output directory")
    parsers["init"].add_argument("--specs", required=True, help="path of the planning repo")
    parsers["init"].add_argument("--force", action="store_true", help="overwrite existing files")
    parsers["doctor"].add_argument("--profile", action="append", help="check only this profile")
    parsers["doctor"].add_argument("--json", action="store_true", help="machine-readable")


def build_parser() -> argparse.ArgumentParser:
    first_paragraph = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="hatchdoit", description=first_paragraph)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--root", default=".", help="project root (holds dodo.py)")
    sub = parser.add_subparsers(dest="command", required=True)
    parsers = {}
    for name, func in COMMANDS.items():
        doc = func.__doc__
        parsers[name] = sub.add_parser(name, help=doc, description=doc)
        parsers[name].set_defaults(func=func)
    _add_arguments(parsers)
    return parser


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reading end is closed (poll reports POLLERR on
    the writing end then), as opposed to a broken pipe to some other process."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no real descriptor (a test's capture)
        return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
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


if __name__ == "__main__":
    sys.exit(main())
