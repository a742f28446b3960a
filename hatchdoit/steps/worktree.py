"""Step `worktree`: the TaskSpec's git worktree on branch taskspec/<ID>, based on the integration
branch with its dependencies' approved branches merged in."""

from __future__ import annotations

import logging

from hatchdoit.atomicio import write_json_atomic
from hatchdoit.errors import StepError
from hatchdoit.faults import fault_point
from hatchdoit.gitops import current_branch, ensure_repo, head_commit
from hatchdoit.locks import exclusive
from hatchdoit.proc import run
from hatchdoit.records import Receipt, WorktreeRecord
from hatchdoit.schemas import try_load
from hatchdoit.steps.context import StepContext

EXIT_CONFLICT = 3


def branch_of(tid: str) -> str:
    return f"taskspec/{tid}"


def run_worktree(ctx: StepContext, attempt: int = 0) -> Receipt:
    project, layout = ctx.project, ctx.layout
    repo = project.target_repo
    seed = project.config.target.seed
    deps = [branch_of(dep) for dep in ctx.spec.depends_on]
    argv: list[str] = [
        str(project.script("git", "create_worktree.sh")),
        "--repo",
        str(repo),
        "--worktrees-root",
        str(layout.worktrees),
        "--id",
        ctx.tid,
    ]
    for dep in deps:
        argv += ["--merge", dep]
    # git's own index.lock in the shared repo does not tolerate concurrent worktree adds
    with exclusive(layout.locks / "target-repo.lock", "the target repo", wait=True):
        ensure_repo(repo, (project.root / seed) if seed else None)
        base_ref = project.config.target.integration_branch or current_branch(repo)
        argv += ["--base", base_ref]
        fault_point("worktree.before_script", ctx.tid)
        done = run(argv, check=False, operation="create_worktree", taskspec_id=ctx.tid)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        if done.returncode == EXIT_CONFLICT:
            ctx.log(
                "orchestrator",
                logging.CRITICAL,
                "dependency merge conflict",
                operation="create_worktree",
                detail=detail,
            )
        raise StepError(
            f"cannot create worktree: {detail}",
            taskspec_id=ctx.tid,
            operation="create_worktree",
            path=layout.worktree(ctx.tid),
            fix="resolve the conflict between the dependencies' branches"
            if done.returncode == EXIT_CONFLICT
            else "see _logs/errors/errors.jsonl",
        )
    record = WorktreeRecord(
        taskspec_id=ctx.tid,
        path=layout.rel(ctx.worktree),
        branch=branch_of(ctx.tid),
        base_ref=base_ref,
        base_commit=_base_commit(ctx, base_ref),
        merged_dependencies=deps,
    )
    write_json_atomic(layout.worktree_record(ctx.tid), record.model_dump(mode="json"))
    ctx.log(
        "orchestrator",
        logging.INFO,
        "worktree ready",
        operation="create_worktree",
        path=record.path,
        base_commit=record.base_commit,
    )
    return ctx.write_receipt(
        "worktree",
        0,
        "ok",
        artifact=layout.worktree_record(ctx.tid),
    )


def _base_commit(ctx: StepContext, base_ref: str) -> str:
    """LOC is measured against the merge of the base and the dependencies: the worktree's HEAD
    right after creation, or the recorded base when the worktree already had work in it."""
    previous = try_load(ctx.layout.worktree_record(ctx.tid), WorktreeRecord)
    if previous is not None and previous.merged_dependencies == [
        branch_of(d) for d in ctx.spec.depends_on
    ]:
        return previous.base_commit
    return head_commit(ctx.worktree)
