"""`hatchdoit approve | reject | retry | reset <ID>`: a person's decisions (steps/decide.py).

Each prints one line saying what the next `doit` will do (`--json`: the decision record). In a
build CI runners share (`hatchdoit ci --shared`), the TaskSpec's records are fetched from the
remote first and pushed back with the decision (exit 1 when the remote's changed meanwhile). Exit 2
when the decision makes no sense for where the TaskSpec stands or the input is bad, 1 while a step
of the TaskSpec runs (decide when it has ended).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hatchdoit.cli.command import Command, project_of
from hatchdoit.core.errors import EXIT_FAILED, EXIT_OK, ConfigError

if TYPE_CHECKING:
    from hatchdoit.run.context import StepContext


def _context(args: argparse.Namespace) -> StepContext:
    from hatchdoit.run.context import StepContext

    project = project_of(args)
    if args.id not in project.plan.taskspecs:
        known = ", ".join(list(project.plan.taskspecs)[:5]) or "none"
        raise ConfigError(
            f"unknown TaskSpec {args.id!r}",
            path=project.specs_root,
            fix=f"hatchdoit status lists them (e.g. {known})",
        )
    from hatchdoit.shared.visibility import bring_in

    args.shared = bring_in(project, args.id)  # built by runners sharing it: their records
    return StepContext(project, args.id)


def _said(args: argparse.Namespace, line: str, made: object) -> int:
    if getattr(args, "shared", False):
        from hatchdoit.shared.visibility import share_decision

        why = share_decision(project_of(args), args.id)
        if why is not None:
            print(f"hatchdoit: {why}", file=sys.stderr)
            return EXIT_FAILED
        line += " (pushed to the shared build's remote)"
    if args.json:
        print(made.model_dump_json(indent=2))  # type: ignore[attr-defined]
    else:
        print(line)
    return EXIT_OK


def _id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="ID", help="the TaskSpec")
    parser.add_argument("--json", action="store_true", help="print the decision record")


def approve_arguments(parser: argparse.ArgumentParser) -> None:
    _id(parser)
    parser.add_argument("--note", default="", help="why, for the record")
    parser.add_argument("--commit", metavar="REF", help="approve this commit of its branch")


def run_approve(args: argparse.Namespace) -> int:
    from hatchdoit.steps.decide import approve

    ctx = _context(args)
    made = approve(ctx, args.note, args.commit)
    what = f"with {made.commit[:12]}" if made.commit else "as QA approved it"
    return _said(args, f"approved {ctx.tid} {what}: the next doit records it and delivers it", made)


def reject_arguments(parser: argparse.ArgumentParser) -> None:
    _id(parser)
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--feedback", metavar="TEXT", help="what must change")
    given.add_argument("--feedback-file", metavar="F", help="the feedback, from a file")


def _feedback(args: argparse.Namespace) -> str:
    if args.feedback_file is None:
        return str(args.feedback)
    try:
        return Path(args.feedback_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the feedback: {exc}", path=args.feedback_file, fix="pass a text file"
        ) from None


def run_reject(args: argparse.Namespace) -> int:
    from hatchdoit.steps.decide import reject

    ctx = _context(args)
    made = reject(ctx, _feedback(args))
    next_attempt = made.after_attempt + 1
    line = f"rejected {ctx.tid}: the next doit runs attempt {next_attempt} with your feedback"
    return _said(args, line, made)


def retry_arguments(parser: argparse.ArgumentParser) -> None:
    _id(parser)
    parser.add_argument("--attempts", type=int, default=1, metavar="N", help="more attempts (1)")
    parser.add_argument("--feedback", default="", metavar="TEXT", help="for the next attempt")
    parser.add_argument(
        "--budget-usd",
        type=float,
        metavar="N",
        help="raise the TaskSpec's budget by N USD (default, after a budget escalation: "
        "another budgets.taskspec_usd)",
    )


def run_retry(args: argparse.Namespace) -> int:
    from hatchdoit.steps.decide import retry

    ctx = _context(args)
    made = retry(ctx, args.attempts, args.feedback, args.budget_usd)
    first, last = made.after_attempt + 1, made.after_attempt + made.grants
    span = f"attempt {first}" if first == last else f"attempts {first}-{last}"
    return _said(args, f"retrying {ctx.tid}: the next doit runs {span}", made)


def reset_arguments(parser: argparse.ArgumentParser) -> None:
    _id(parser)
    parser.add_argument("--hard", action="store_true", help="also delete its branch")
    parser.add_argument("--yes", action="store_true", help="do not ask to confirm --hard")


def run_reset(args: argparse.Namespace) -> int:
    from hatchdoit.run.gitops import branch_of
    from hatchdoit.steps.decide import reset

    ctx = _context(args)
    if args.hard and not args.yes:
        branch = branch_of(ctx.tid)
        if not sys.stdin.isatty():
            raise ConfigError(
                f"--hard deletes {branch} and the work on it",
                field="--hard",
                fix="confirm with --yes (or leave out --hard: the branch is kept aside)",
            )
        answer = input(f"delete {branch} and the work on it? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing done")
            return EXIT_OK
    made = reset(ctx, args.hard)
    kept = "deleted" if args.hard else f"kept under refs/hatchdoit/resets/{ctx.tid}/{made.seq}"
    line = (
        f"reset {ctx.tid}: the next doit starts it again from the base at attempt "
        f"{made.after_attempt + 1} (its branch: {kept})"
    )
    return _said(args, line, made)


COMMANDS = (
    Command(
        "approve",
        "Approve a TaskSpec awaiting review, or an escalated one (with its last commit or "
        "--commit REF): the next doit delivers it.",
        run_approve,
        approve_arguments,
    ),
    Command(
        "reject",
        "Send a TaskSpec back with feedback: the next doit runs a new attempt whose prompt "
        "carries it (past max_attempts), and delivers its result again.",
        run_reject,
        reject_arguments,
    ),
    Command(
        "retry",
        "Give an escalated TaskSpec N more attempts (--attempts N), continuing where it stopped.",
        run_retry,
        retry_arguments,
    ),
    Command(
        "reset",
        "Start a TaskSpec over from the current base (its branch is kept aside; --hard deletes "
        "it); its dependents rebuild.",
        run_reset,
        reset_arguments,
    ),
)
