"""Step `worktree`: the TaskSpec's worktree, a clone of the target repo sharing its objects
(run/workspace_sync.py), on branch taskspec/<ID>, based on the integration branch with its
dependencies' approved branches merged in; the target's taskspec/<ID> is then made the same.

The branch is what the TaskSpec's records say it is: if it was lost (worktree removed, branch
deleted) after done.json recorded an approved commit, it is restored at that commit while git
still has it; once the commit is gone too, the records of the lost work are set aside, so the
TaskSpec's chain reruns. Either way a WARN says what happened: approved work never vanishes
silently."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.locks import exclusive
from hatchdoit.core.proc import run
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.commits import bring_in, keep_aside
from hatchdoit.records.models import DoneRecord, Receipt, WorktreeRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.run.branches import integration_branch, merges_into_branch
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import (
    branch_exists,
    branch_of,
    contains,
    ensure_repo,
    git,
    has_commit,
    head_commit,
)
from hatchdoit.run.workspace_files import copy_into
from hatchdoit.run.workspace_sync import check_clone, discard_workspace, is_clone_of

EXIT_CONFLICT = 3


def run_worktree(ctx: StepContext, attempt: int = 0) -> Receipt:
    project, layout = ctx.project, ctx.layout
    repo = project.target_repo
    seed = project.config.target.seed
    argv: list[str] = [
        str(project.script("git", "create_worktree.sh")),
        "--repo",
        str(repo),
        "--worktrees-root",
        str(layout.worktrees),
        "--id",
        ctx.tid,
    ]
    # git's own index.lock in the shared repo does not tolerate concurrent worktree adds
    with exclusive(layout.locks / "target-repo.lock", "the target repo", wait=True):
        ensure_repo(repo, (project.root / seed) if seed else None)
        base_ref = integration_branch(ctx, repo)
        deps = _to_merge(ctx, base_ref)
        for dep in deps:
            argv += ["--merge", dep]
        argv += ["--base", base_ref]
        reset = _apply_reset(ctx, repo)
        if is_clone_of(repo, ctx.worktree):
            bring_in(ctx)  # a clone whose branch the target lacks (deleted there) still has it
        restore = _branch_as_recorded(ctx, repo)
        if restore:
            argv += ["--restore", restore]
        fresh = not restore and not branch_exists(repo, branch_of(ctx.tid))
        fault_point("worktree.before_script", ctx.tid)
        done = run(argv, check=False, operation="create_worktree", taskspec_id=ctx.tid)
        if done.returncode == 0:
            bring_in(ctx)  # the dependencies' merges, made in the clone
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
        base_commit=head_commit(ctx.worktree) if fresh else _base_commit(ctx, deps),
        merged_dependencies=deps,
        reset=reset,
    )
    write_json_atomic(layout.worktree_record(ctx.tid), record.model_dump(mode="json"))
    copied = copy_into(project.config.workspace, repo, ctx.worktree)
    if copied:
        ctx.audit("workspace_copied", files=copied)
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


def _apply_reset(ctx: StepContext, repo: Path) -> int:
    """A reset decision (`hatchdoit reset`) not applied yet: the worktree, with anything in it,
    is kept under refs/hatchdoit/resets/<ID>/<n> (not with --hard), then removed with its
    branch; the TaskSpec's done, escalated and integrate records are set aside. The worktree is
    then made anew from the current base. Returns the reset the worktree is made after (once
    recorded, a rerun does nothing again)."""
    decisions = ctx.project.decisions(ctx.tid)
    made = decisions[0] if decisions and decisions[0].kind == "reset" else None
    previous = try_load(ctx.layout.worktree_record(ctx.tid), WorktreeRecord)
    if made is None or (previous is not None and previous.reset == made.seq):
        return made.seq if made is not None else 0
    branch = branch_of(ctx.tid)
    if ctx.worktree.is_dir() and not _set_aside_if_tampered(ctx, repo, made.seq):
        if not made.hard:
            ref = f"refs/hatchdoit/resets/{ctx.tid}/{made.seq}"
            keep_aside(ctx, ref, f"{ctx.tid}: its worktree when it was reset")
        discard_workspace(repo, ctx.worktree)
    elif branch_exists(repo, branch) and not made.hard:
        tip = git(repo, "rev-parse", f"refs/heads/{branch}").strip()
        git(repo, "update-ref", f"refs/hatchdoit/resets/{ctx.tid}/{made.seq}", tip)
    if branch_exists(repo, branch):
        git(repo, "branch", "-D", "-q", branch)
    state = ctx.layout.state_dir(ctx.tid)
    aside = state / f"reset-{made.seq:03d}"
    aside.mkdir(exist_ok=True)
    for path in (
        ctx.layout.done(ctx.tid),
        ctx.layout.escalated(ctx.tid),
        ctx.layout.integration(ctx.tid),
    ):
        if path.exists():
            os.replace(path, aside / path.name)
    ctx.audit("reset_applied", seq=made.seq, hard=made.hard, branch=branch)
    ctx.log(
        "orchestrator",
        logging.WARNING,
        f"reset: {branch} starts again from the base"
        + ("" if made.hard else f" (the old one is kept under refs/hatchdoit/resets/{ctx.tid}/)"),
        operation="reset",
    )
    return made.seq


def _set_aside_if_tampered(ctx: StepContext, repo: Path, seq: int) -> bool:
    """A worktree whose `.git` is no longer the clone hatchdoit made (check_clone) is moved
    aside as it is, for a person to look at, rather than have git run in it: True then."""
    try:
        check_clone(repo, ctx.worktree)
    except StepError as exc:
        aside = ctx.worktree.with_name(f".{ctx.tid}.reset-{seq}")
        os.replace(ctx.worktree, aside)
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"reset: {exc.message}; moved it to {ctx.layout.rel(aside)}",
            operation="reset",
        )
        return True
    return False


def _branch_as_recorded(ctx: StepContext, repo: Path) -> str | None:
    """The commit to restore a lost branch at, if done.json records one that git still has.

    A lost branch whose recorded commit is gone can only be rebuilt: the records of the lost work
    are set aside (so the chain reruns) and None is returned, as for a branch that exists or was
    never recorded. A branch that exists but lacks the recorded commit is left alone (someone
    moved it on purpose, perhaps) with a WARN."""
    done = try_load(ctx.layout.done(ctx.tid), DoneRecord)
    branch = branch_of(ctx.tid)
    if done is None:
        state = ctx.layout.state_dir(ctx.tid)
        if any(state.glob("factory-*.receipt.json")) and not branch_exists(repo, branch):
            ctx.log(
                "orchestrator",
                logging.WARNING,
                f"branch {branch} was missing and no approved commit is recorded: it starts "
                "again from the base, without the work of the attempts already made",
                operation="lost_branch",
            )
        return None
    if branch_exists(repo, branch):
        if has_commit(repo, done.commit) and contains(repo, branch, done.commit):
            return None
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"branch {branch} does not contain {done.commit}, the approved commit done.json "
            "records; leaving the branch as it is",
            operation="diverged_branch",
            commit=done.commit,
        )
        return None
    if has_commit(repo, done.commit):
        ctx.audit("branch_restored", branch=branch, commit=done.commit)
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"branch {branch} was missing: restoring it at {done.commit}, the approved commit "
            "done.json records",
            operation="restore_branch",
            commit=done.commit,
        )
        return done.commit
    aside = _set_records_aside(ctx)
    ctx.audit("records_set_aside", branch=branch, commit=done.commit, to=ctx.layout.rel(aside))
    ctx.log(
        "orchestrator",
        logging.WARNING,
        f"branch {branch} was missing and {done.commit}, the approved commit done.json records, "
        f"is gone from {repo}: the TaskSpec's chain will rerun from the base (its records are "
        f"kept in {ctx.layout.rel(aside)})",
        operation="lost_branch",
        commit=done.commit,
    )
    return None


def _set_records_aside(ctx: StepContext) -> Path:
    """Move every step's receipt and launch record except the worktree's, then done.json and
    escalated.json, into `lost-<time>/` beside them: no longer current, still on record. done.json
    goes last, so a build killed halfway finds it and sets the rest aside on its rerun."""
    state = ctx.layout.state_dir(ctx.tid)
    aside = state / f"lost-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    aside.mkdir()
    keep = {
        ctx.layout.worktree_record(ctx.tid).name,
        ctx.layout.receipt(ctx.tid, "worktree", 0).name,
    }
    records = [
        path
        for path in sorted(state.iterdir())
        if path.is_file()
        and path.name.endswith((".receipt.json", ".launch.json"))
        and path.name not in keep
    ]
    for path in [*records, ctx.layout.escalated(ctx.tid), ctx.layout.done(ctx.tid)]:
        if path.exists():
            os.replace(path, aside / path.name)
    return aside


def _to_merge(ctx: StepContext, base_ref: str) -> list[str]:
    """What the worktree merges in: its dependencies' branches; or, when approved work lands on
    the integration branch, that branch (it holds the integrated dependencies)."""
    built = ctx.project.plan.built_dependencies(ctx.tid)  # done in the plan: no branch
    if not built:
        return []
    if merges_into_branch(ctx):
        return [base_ref]
    return [branch_of(dep) for dep in built]


def _base_commit(ctx: StepContext, merged: list[str]) -> str:
    """What LOC is measured against: the merge of the base and the dependencies (the worktree's
    HEAD right after creation); when the worktree already had work in it, the recorded base, or
    the integration branch's commit just merged in (HEAD less the TaskSpec's own work)."""
    previous = try_load(ctx.layout.worktree_record(ctx.tid), WorktreeRecord)
    if merged and merges_into_branch(ctx):
        return git(ctx.project.target_repo, "rev-parse", f"{merged[0]}^{{commit}}").strip()
    if previous is not None and previous.merged_dependencies == merged:
        return previous.base_commit
    return head_commit(ctx.worktree)
