"""A TaskSpec's workspace is a clone of the target repo sharing its objects (made by
scripts/git/create_worktree.sh: `git clone --shared`), so its refs, config, hooks and the objects
it writes are its own: an agent there can move no other branch of the target and delete none of
its objects (the target's objects directory is read-only to a confined process). hatchdoit brings
the agent's work into the target: `take_branch` is the one place that does it, after every
factory session and every commit hatchdoit makes in the workspace (what QA changes is discarded;
work kept aside goes through `take_ref`). Only the workspace's own `taskspec/<ID>` is taken;
whatever else the agent did to its refs stays in its clone. `catch_up` is the other way, before a
session: commits a person made on the target's branch. `check_clone` comes before any git of
hatchdoit's runs in a workspace an agent wrote: its `.git` is in the agent's reach.

A workspace an older version made is a linked worktree of the target (its `.git` is a file): its
commits are the target's already, so taking its branch does nothing."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hatchdoit.core.errors import StepError
from hatchdoit.run.gitops import branch_of, git, try_git

# The workspace is read with git's own local transport: an upload-pack of git's, never one the
# workspace's config or the target's names; no hook, FETCH_HEAD, tags, submodules or maintenance.
FETCH = (
    "fetch",
    "-q",
    "--no-tags",
    "--no-write-fetch-head",
    "--no-recurse-submodules",
    "--no-auto-maintenance",
    "--upload-pack=git-upload-pack",
)
# `protocol.file.allow` for the local transport, whatever the user's config restricts it to
FILE_PROTOCOL = {
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "protocol.file.allow",
    "GIT_CONFIG_VALUE_0": "always",
}
NO_REPLACE = {"GIT_NO_REPLACE_OBJECTS": "1"}  # `git replace` and grafts left out of history


def is_linked_worktree(workspace: Path) -> bool:
    """Whether `workspace` is an older version's linked worktree (its `.git` a file)."""
    return (workspace / ".git").is_file()


def objects_dir(repo: Path) -> Path:
    """The target repo's objects directory (what its clones' alternates name), resolved."""
    return _objects_dir(str(repo.absolute()))


@lru_cache(maxsize=8)
def _objects_dir(repo: str) -> Path:
    common = git(Path(repo), "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    return (Path(common) / "objects").resolve()


def is_clone_of(repo: Path, workspace: Path) -> bool:
    """Whether `workspace` is a repository of its own whose alternates name `repo`'s objects."""
    dot_git = workspace / ".git"
    if not dot_git.is_dir() or dot_git.is_symlink():
        return False
    try:
        lines = (dot_git / "objects" / "info" / "alternates").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    objects = objects_dir(repo)
    return any(
        line.strip() and Path(line.strip()).resolve() == objects for line in lines.splitlines()
    )


def check_clone(repo: Path, workspace: Path) -> None:
    """Before hatchdoit runs git in a workspace an agent has written: its `.git` must still be
    the clone's own git directory, so that no git command of hatchdoit's works on another
    repository (the target's refs, its index, its checkout). An agent can rename `.git` and make
    another: a StepError when it is a file or a symlink, names a common dir, holds a symlink, or
    its alternates name anything but the target's objects. An older linked worktree passes
    while the target lists it."""
    dot_git = workspace / ".git"
    if dot_git.is_symlink():
        raise _tampered(workspace, [".git is a symlink"])
    if dot_git.is_file():
        listed = git(repo, "worktree", "list", "--porcelain").splitlines()
        if f"worktree {workspace.resolve()}" in listed:
            return
        raise _tampered(workspace, [".git is a file naming a git directory"])
    if not is_clone_of(repo, workspace):
        raise _not_a_clone(repo, workspace)
    found = [name for name in ("commondir", "gitdir") if (dot_git / name).exists()]
    lines = (dot_git / "objects" / "info" / "alternates").read_text(encoding="utf-8")
    if len([line for line in lines.splitlines() if line.strip()]) != 1:
        found.append("objects/info/alternates (more than the target's objects)")
    for folder, dirs, files in os.walk(dot_git):
        found += [
            os.path.relpath(os.path.join(folder, name), dot_git)
            for name in [*dirs, *files]
            if os.path.islink(os.path.join(folder, name))
        ]
    if found:
        raise _tampered(workspace, found)


def _tampered(workspace: Path, found: list[str]) -> StepError:
    return StepError(
        f"{workspace}/.git is not the git directory hatchdoit made: {', '.join(sorted(found)[:3])} "
        "(an agent replaced it); hatchdoit runs no git there",
        operation="check_clone",
        path=workspace,
        fix="look at what is there, then `hatchdoit reset <ID>` makes the worktree anew",
    )


def _not_a_clone(repo: Path, workspace: Path) -> StepError:
    return StepError(
        f"{workspace} is not a clone of {repo} sharing its objects (its .git/objects/info/"
        "alternates does not name them)",
        operation="take_branch",
        path=workspace,
        fix="hatchdoit reset <ID> makes it anew (its branch is kept aside)",
    )


@dataclass(frozen=True)
class Taken:
    """The target's `taskspec/<ID>` before and after taking the workspace's; `kept` names the
    ref that keeps the old tip when the new one does not contain it (the branch was rewritten)."""

    old: str | None
    new: str | None
    kept: str | None = None


def _tip(repo: Path, ref: str) -> str | None:
    done = try_git(repo, "rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _fetch(repo: Path, workspace: Path, source: str, dest: str) -> None:
    done = try_git(repo, *FETCH, "--", str(workspace), f"+{source}:{dest}", env=FILE_PROTOCOL)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise StepError(
            f"cannot take {source} of {workspace} into {repo}: "
            f"{detail[-1] if detail else f'git fetch exited {done.returncode}'}",
            operation="take_branch",
            path=workspace,
            fix=f"git -C {workspace} fsck shows what is wrong there; `hatchdoit reset` starts anew",
        )


def take_branch(repo: Path, workspace: Path, tid: str, *, rewind: bool = True) -> Taken:
    """Make the target's `taskspec/<ID>` what the workspace's is (git's fetch: the commits the
    workspace made are copied into the target's objects). Idempotent: a kill between an agent's
    commit and this is mended by the next `doit`, which calls it again. A target branch the new
    tip does not contain (the agent rewrote its branch) is kept under
    `refs/hatchdoit/replaced/<ID>/<its commit>` first: no commit is lost. Without `rewind`, a
    workspace merely behind the target (a person committed there) changes nothing."""
    branch = f"refs/heads/{branch_of(tid)}"
    old = _tip(repo, branch)
    check_clone(repo, workspace)
    if is_linked_worktree(workspace):
        return Taken(old, old)
    theirs = _tip(workspace, branch)
    if theirs is None or theirs == old:
        return Taken(old, old)
    # fetched aside first: whether the new tip holds the old one is asked of the target, whose
    # history the agent cannot graft or replace (in its clone it could), and the branch then
    # moves only from the tip read here (a person committing meanwhile fails it, loses nothing)
    taking = f"refs/hatchdoit/taking/{tid}"
    _fetch(repo, workspace, branch, taking)
    new = _tip(repo, taking) or theirs
    try:
        if not rewind and old is not None and _contains(repo, old, new):
            return Taken(old, old)
        kept = None
        if old is not None and not _contains(repo, new, old):
            kept = f"refs/hatchdoit/replaced/{tid}/{old}"
            git(repo, "update-ref", kept, old)
        git(repo, "update-ref", branch, new, *([old] if old else []))
    finally:
        try_git(repo, "update-ref", "-d", taking)
    return Taken(old, new, kept)  # the update-ref from `old` held: the branch is at `new`


def catch_up(repo: Path, workspace: Path, tid: str) -> bool:
    """Before an agent's session: a workspace behind the target's `taskspec/<ID>` (a person
    committed there since) is fast-forwarded to it when nothing of its own is in the way, so the
    session builds on that work (and taking its branch afterwards keeps it). Whether it moved."""
    branch = f"refs/heads/{branch_of(tid)}"
    check_clone(repo, workspace)
    if is_linked_worktree(workspace):
        return False
    old, theirs = _tip(repo, branch), _tip(workspace, branch)
    if old is None or theirs is None or old == theirs or not _contains(workspace, old, theirs):
        return False
    on_branch = try_git(workspace, "symbolic-ref", "-q", "HEAD").stdout.strip() == branch
    return on_branch and try_git(workspace, "merge", "--ff-only", "-q", old).returncode == 0


def _contains(repo: Path, tip: str, commit: str) -> bool:
    """Whether `commit` is `tip` or its ancestor, with no replacement or graft of history (an
    agent can plant one in its clone)."""
    done = try_git(repo, "merge-base", "--is-ancestor", commit, tip, env=NO_REPLACE)
    return done.returncode == 0


def take_ref(repo: Path, workspace: Path, ref: str, commit: str) -> None:
    """Put `ref`, which hatchdoit itself just pointed at `commit` in the workspace (work kept
    aside), into the target with the commit's objects. Nothing to do in a linked worktree."""
    check_clone(repo, workspace)
    if is_linked_worktree(workspace):
        return
    _fetch(repo, workspace, ref, ref)
    if _tip(repo, ref) != commit:
        raise StepError(
            f"{ref} of {workspace} is not at {commit[:12]} as hatchdoit made it",
            operation="take_ref",
            path=workspace,
            fix="rerun doit",
        )


def discard_workspace(repo: Path, workspace: Path) -> None:
    """Remove the workspace, its uncommitted files and its refs with it (the caller has kept
    what it needs: take_branch, take_ref): a clone is deleted, an older linked worktree removed
    with `git worktree remove --force`. The caller holds the target repo's lock."""
    if is_linked_worktree(workspace):
        git(repo, "worktree", "remove", "--force", str(workspace))
    elif is_clone_of(repo, workspace):
        shutil.rmtree(workspace)
    elif workspace.exists():
        raise StepError(
            f"{workspace} is neither a clone nor a worktree of {repo}: not removing it",
            operation="discard_workspace",
            path=workspace,
            fix="move it away, then rerun",
        )
