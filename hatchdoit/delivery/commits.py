"""What is approved is a commit. After the factory's session ends, whatever it left uncommitted is
committed on the TaskSpec's branch by hatchdoit (and said so); the checks, QA, done.json and the
integration then all name that one commit. What the tests leave behind, and whatever the QA agent
changes, never becomes part of it: by-products are removed after the checks, and QA's changes
are kept under `refs/hatchdoit/qa-leftovers/<ID>/<k>` for inspection, then discarded.

The worktree is a clone of the target repo (run/workspace_sync.py): the commit made here, and
what is kept aside, are brought into the target at once.

What the workspace holds that git must not (`workspace.copy`'s files, the setup's `.venv` or
`node_modules`: run/workspace_files.py) is left out of every commit made here and kept by
every cleaning, by pathspec and `git clean -e`: the user's ignore rules are not changed."""

from __future__ import annotations

import logging
import os

from hatchdoit.core.errors import StepError
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import (
    WorktreeState,
    branch_of,
    contains,
    git,
    head_commit,
    identity,
    worktree_state,
)
from hatchdoit.run.workspace_files import clean_excludes, exclude_pathspecs
from hatchdoit.run.workspace_sync import check_clone, take_branch, take_ref


def trusted(ctx: StepContext) -> None:
    """Before hatchdoit's git runs in the worktree an agent or its tests wrote: its `.git` is
    still the clone hatchdoit made (run/workspace_sync.check_clone), else a StepError."""
    check_clone(ctx.project.target_repo, ctx.worktree)


def _who(ctx: StepContext) -> dict[str, str]:
    author = ctx.project.config.target.commit_as
    return identity(author.name, author.email)


def _state(ctx: StepContext) -> WorktreeState:
    return worktree_state(ctx.worktree, _excluded(ctx))


def settle_branch(ctx: StepContext, state: WorktreeState | None = None) -> None:
    """Put the worktree back on taskspec/<ID> when the agent left it elsewhere (another branch,
    a detached HEAD) with work that builds on the branch: the branch moves forward to it. Work
    that does not contain the branch's tip is refused: it would drop commits from the branch.
    `state`: the worktree's, when the caller has it already (and so checked the clone)."""
    if state is None:
        trusted(ctx)
        state = _state(ctx)
    branch = f"refs/heads/{branch_of(ctx.tid)}"
    where = state.branch
    if where == branch:
        return
    head = state.head or head_commit(ctx.worktree)
    tip = git(ctx.worktree, "rev-parse", branch).strip()
    if contains(ctx.worktree, head, tip):
        git(ctx.worktree, "checkout", "-q", "-B", branch_of(ctx.tid), head)
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"the agent left the worktree on {where or 'a detached HEAD'}: "
            f"{branch_of(ctx.tid)} moved forward to its commit {head[:12]}",
            operation="settle_branch",
        )
        return
    raise StepError(
        f"the worktree is on {where or 'a detached HEAD'} at {head[:12]}, which does not build "
        f"on {branch_of(ctx.tid)}",
        taskspec_id=ctx.tid,
        operation="settle_branch",
        path=ctx.worktree,
        fix=f"git -C {ctx.worktree} checkout {branch_of(ctx.tid)} (after keeping what you need)",
    )


def _excluded(ctx: StepContext) -> list[str]:
    return exclude_pathspecs(ctx.project.config.workspace)


def _clean(ctx: StepContext) -> None:
    """Remove the untracked files the repo does not ignore, but the workspace's own."""
    git(ctx.worktree, "clean", "-q", "-f", "-d", *clean_excludes(ctx.project.config.workspace))


def commit_leftovers(ctx: StepContext, attempt: int) -> tuple[str, list[str]]:
    """The attempt's commit: HEAD of taskspec/<ID> once what the factory left uncommitted
    (tracked changes, untracked files the repo does not ignore) is committed; and those files."""
    trusted(ctx)
    state = _state(ctx)
    settle_branch(ctx, state)  # moves the branch, never HEAD or the files: `state` holds
    left = state.dirty
    if left:
        message = (
            f"{ctx.tid}: attempt {attempt}, as the factory agent left it\n\n"
            "The factory agent did not commit this work; hatchdoit committed it after the "
            "agent's session ended.\n\n"
            f"Hatchdoit-TaskSpec: {ctx.tid}\nHatchdoit-Attempt: {attempt}\n"
        )
        git(ctx.worktree, "add", "-A", "--", ".", *_excluded(ctx))
        git(ctx.worktree, "commit", "-q", "--no-verify", "-m", message, env=_who(ctx))
        ctx.audit("committed_for_agent", attempt=attempt, files=left)
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"the factory left {len(left)} file(s) uncommitted: committed them on "
            f"{branch_of(ctx.tid)}",
            attempt=attempt,
            operation="commit_leftovers",
            files=left[:50],
        )
        head = head_commit(ctx.worktree)
    else:
        head = state.head or head_commit(ctx.worktree)
    bring_in(ctx)
    return head, left


def bring_in(ctx: StepContext, *, rewind: bool = True) -> str | None:
    """The target's taskspec/<ID> made what the worktree's is (run/workspace_sync.py), said so
    when that rewrote it; returns its commit. Without `rewind`, a worktree merely behind the
    target's branch leaves it as it is."""
    taken = take_branch(ctx.project.target_repo, ctx.worktree, ctx.tid, rewind=rewind)
    if taken.kept is not None:
        ctx.audit("branch_rewritten", old=taken.old, new=taken.new, kept=taken.kept)
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"{branch_of(ctx.tid)} was rewritten in the worktree: its old tip is kept under "
            f"{taken.kept}",
            operation="take_branch",
        )
    return taken.new


def clean_to(ctx: StepContext, commit: str, why: str) -> list[str]:
    """Make the worktree exactly `commit` again (tracked files as committed, untracked files
    not ignored removed); return what was there. Refuses when the branch is not at `commit`:
    only a person moves a TaskSpec's branch past what its records name."""
    trusted(ctx)
    state = _state(ctx)
    head = state.head or head_commit(ctx.worktree)
    if head != commit:
        raise StepError(
            f"{branch_of(ctx.tid)} is at {head[:12]}, not at {commit[:12]}, the commit its records "
            f"name ({why})",
            taskspec_id=ctx.tid,
            operation="clean_worktree",
            path=ctx.worktree,
            fix=f"git -C {ctx.worktree} reset --keep {commit} if the later commits are not wanted",
        )
    found = state.dirty
    if found:
        git(ctx.worktree, "reset", "-q", "--hard", commit)
        _clean(ctx)
    return found


def keep_aside(ctx: StepContext, ref: str, message: str) -> str:
    """Keep the worktree as it is, committed or not, under `ref` (a commit of its untracked and
    changed files on top of HEAD, made with an index of its own: the worktree's index and the
    user's are left alone); returns that commit."""
    trusted(ctx)
    head = head_commit(ctx.worktree)
    index = os.path.join(git(ctx.worktree, "rev-parse", "--absolute-git-dir").strip(), "kept-index")
    env = {"GIT_INDEX_FILE": index}
    try:
        git(ctx.worktree, "read-tree", head, env=env)
        git(ctx.worktree, "add", "-A", "--", ".", *_excluded(ctx), env=env)
        tree = git(ctx.worktree, "write-tree", env=env).strip()
    finally:
        if os.path.exists(index):
            os.unlink(index)
    kept = git(ctx.worktree, "commit-tree", tree, "-p", head, "-m", message, env=_who(ctx)).strip()
    git(ctx.worktree, "update-ref", ref, kept)
    take_ref(ctx.project.target_repo, ctx.worktree, ref, kept)
    return kept


def discard_qa_changes(ctx: StepContext, attempt: int, commit: str) -> str | None:
    """After the QA session: keep whatever it changed or committed under a named ref, then put
    the worktree back at `commit`. Returns the ref, None when QA left the tree as it was."""
    trusted(ctx)
    state = _state(ctx)
    on_branch = state.branch == f"refs/heads/{branch_of(ctx.tid)}"
    if state.head == commit and on_branch and not state.dirty:
        return None
    ref = f"refs/hatchdoit/qa-leftovers/{ctx.tid}/{attempt}"
    what = f"{ctx.tid}: what the QA agent of attempt {attempt} changed (discarded)"
    kept = keep_aside(ctx, ref, what)
    git(ctx.worktree, "checkout", "-q", "-B", branch_of(ctx.tid), commit)
    git(ctx.worktree, "reset", "-q", "--hard", commit)
    _clean(ctx)
    ctx.audit("qa_changes_discarded", attempt=attempt, ref=ref, kept=kept)
    ctx.log(
        "qa",
        logging.WARNING,
        f"the QA agent changed the worktree: kept under {ref}, discarded; the verdict is about "
        f"{commit[:12]}",
        attempt=attempt,
        agent_type="qa",
        operation="discard_qa_changes",
    )
    return ref
