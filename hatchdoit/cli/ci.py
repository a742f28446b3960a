"""`hatchdoit ci`: build until settled, then JUnit, metrics and the report (cli/ci_loop.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hatchdoit.cli.command import Command, project_of


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shard", metavar="K/N", help="build the K-th of N stable subsets")
    parser.add_argument(
        "--junit",
        metavar="PATH",
        help="JUnit XML, one test case per TaskSpec (default _logs/junit.xml)",
    )
    parser.add_argument("-n", "--jobs", type=int, default=0, metavar="N", help="doit -n N")
    parser.add_argument("--report", metavar="PATH", help="HTML report (default _logs/report.html)")
    parser.add_argument("--max-runs", type=int, default=5, help="doit runs at most (default 5)")
    parser.add_argument(
        "--shared",
        action="store_true",
        help="share the build with other runners through integration.remote: claim, build "
        "and push one TaskSpec at a time (docs/ci.md)",
    )
    parser.add_argument("--runner", metavar="NAME", help="this runner's name on its claims")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.cli.ci_loop import CiOptions, parse_shard, run_ci

    options = CiOptions(
        shard=parse_shard(args.shard) if args.shard else None,
        jobs=args.jobs,
        junit=Path(args.junit).absolute() if args.junit else None,
        report=Path(args.report).absolute() if args.report else None,
        max_runs=args.max_runs,
        shared=args.shared,
        runner=args.runner,
    )
    return run_ci(project_of(args), options, say=lambda line: print(line, flush=True))


COMMANDS = (
    Command(
        "ci",
        "Build and deliver until nothing is left to run; write JUnit (_logs/junit.xml "
        "unless --junit), metrics, report. Exit 0 all done, 1 some escalated or failed, 2 "
        "configuration or planning errors (--shared: no reachable remote), 4 some wait (a review, "
        "a pull request's merge, another runner).",
        run,
        arguments,
    ),
)
