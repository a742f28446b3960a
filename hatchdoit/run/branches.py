"""The integration branch: the one worktrees start from and delivered work lands on, and whether
approved work lands there (the step `worktree`, the merge queue, the pull request and the branch
guard all ask it)."""

from __future__ import annotations

from pathlib import Path

from hatchdoit.config.models import MERGE_MODES
from hatchdoit.records.models import WorktreeRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import current_branch


def integration_branch(ctx: StepContext, repo: Path) -> str:
    """The branch worktrees start from and work is integrated into: target.integration_branch,
    else the one this TaskSpec's worktree record names (the branch checked out when it was first
    made: not read again later), else the branch checked out now."""
    configured = ctx.project.config.target.integration_branch
    if configured:
        return configured
    previous = try_load(ctx.layout.worktree_record(ctx.tid), WorktreeRecord)
    if previous is not None:
        return previous.base_ref
    return current_branch(repo)


def merges_into_branch(ctx: StepContext) -> bool:
    """Whether approved work lands on the integration branch: then a dependent starts from that
    branch, once its dependencies are integrated, rather than from their own branches."""
    return ctx.project.config.integrate in MERGE_MODES
