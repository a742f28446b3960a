"""Is the planning repo there? Checked when a build starts (which records the plan's commit)
and before every agent launch: a planning repo on a share that went away must pause the build,
not read as a plan whose TaskSpecs were all deleted."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hatchdoit.core.proc import run


def plan_problem(specs_root: Path) -> str | None:
    """What makes the planning repo unusable right now, or None."""
    if not specs_root.exists():
        return "does not exist (unmounted, moved or deleted?)"
    if not specs_root.is_dir():
        return "is not a directory"
    try:
        next(os.scandir(specs_root), None)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return None


@dataclass(frozen=True)
class PlanCommit:
    """What the build read its plan from: the planning repo's commit (None if it is no git
    repo) and whether its files differed from that commit."""

    path: str
    commit: str | None
    dirty: bool
    recorded_at: str

    def describe(self) -> str:
        if self.commit is None:
            return "not a git repo: which version of the plan was built is not recorded"
        return f"commit {self.commit[:12]}" + (" with changes not committed" if self.dirty else "")


def plan_commit(specs_root: Path) -> PlanCommit:
    """The planning repo's HEAD and whether its working tree is dirty."""
    head = run(["git", "-C", specs_root, "rev-parse", "--verify", "-q", "HEAD"], check=False)
    commit = head.stdout.strip() if head.returncode == 0 and head.stdout.strip() else None
    dirty = False
    if commit is not None:
        status = run(["git", "-C", specs_root, "status", "--porcelain", "--", "."], check=False)
        dirty = bool(status.stdout.strip())
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return PlanCommit(str(specs_root), commit, dirty, at)
