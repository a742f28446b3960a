"""After the integration branch moved: whoever has it checked out is told, and their files are
left alone. Git moves a branch without touching the working trees that have it checked out, so
such a checkout's files stay those of the old tip while its HEAD names the new one (`git status`
then shows the integrated work as changes to undo). hatchdoit says so once per landing, with the
two commands that bring the files up to date keeping local changes. The one exception is the
target repo hatchdoit made itself from `target.seed` (the demo's `_target`): its checkout is
hatchdoit's own, and is brought up to date when it has no changes of its own.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Protocol

from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git, seeded, succeeds


class Move(Protocol):
    """A move of the integration branch (merge_queue.Landed is one)."""

    commit: str  # where it is now
    previous: str  # where it was
    branch: str


def checkouts_of(repo: Path, branch: str, ours: Path) -> list[Path]:
    """Working trees of `repo` with `branch` checked out, those under `ours` left out."""
    found, path = [], None
    for line in git(repo, "worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            path = Path(line[len("worktree ") :])
        elif line == f"branch refs/heads/{branch}" and path is not None:
            found += [] if path.resolve().is_relative_to(ours.resolve()) else [path]
    return found


def _unchanged_since(checkout: Path, commit: str) -> bool:
    """Whether the checkout's index and files are exactly `commit` (nothing of its own)."""
    for argv in (["diff", "--quiet", commit], ["diff", "--cached", "--quiet", commit]):
        if not succeeds(checkout, *argv):
            return False
    untracked = git(checkout, "ls-files", "--others", "--exclude-standard")
    return not untracked.strip()


def files_at(checkout: Path, branch: str, newest: str) -> str | None:
    """The commit of `branch`'s recent history (its reflog) whose tree the checkout's index
    holds: what its files are, after hatchdoit moved the branch under it one or more times."""
    recent = git(
        checkout, "log", "-g", "--format=%H", "-n", "50", f"refs/heads/{branch}", check=False
    )
    for commit in [newest, *recent.split()]:
        if succeeds(checkout, "diff-index", "--quiet", "--cached", commit):
            return commit
    return None


def tell_checkout(ctx: StepContext, landed: Move) -> None:
    repo = ctx.project.target_repo
    for checkout in checkouts_of(repo, landed.branch, ctx.layout.worktrees):
        ours_to_update = checkout.resolve() == repo.resolve() and seeded(repo)
        if ours_to_update and _unchanged_since(checkout, landed.previous):
            git(checkout, "read-tree", "-u", "-m", landed.previous, landed.commit)
            continue
        new = landed.commit[:12]
        at = files_at(checkout, landed.branch, landed.previous)
        if at is None:
            hint = f"git -C {checkout} status shows what differs from {new}"
            were = "as they were"
        else:
            old = at[:12]
            hint = (
                f"git -C {checkout} reset --keep {old} && git -C {checkout} merge --ff-only {new}"
            )
            were = f"as they were (those of {old})"
        line = (
            f"{landed.branch} is checked out in {checkout}: hatchdoit moved it to {new} and left "
            f"your files {were}; to update them, keeping your changes: {hint}"
        )
        print(f"  {ctx.tid}: {line}", file=sys.stderr)
        ctx.log(
            "orchestrator", logging.WARNING, line, operation="integrate", checkout=str(checkout)
        )
