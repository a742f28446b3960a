"""Removing a worktree that is no longer needed: a delivered TaskSpec's (at once, when
`workspace.remove_delivered`), and what `hatchdoit gc` finds. A worktree (a clone of the target
sharing its objects; an older version's linked worktree goes with `git worktree remove`) is
deleted once its branch is in the target; its branch there, the receipts and the logs stay, so
a delivered TaskSpec stays up to date without it (build/actions.py) and only a real rebuild
makes it again.

Never at the cost of work: a worktree with changes that are not committed (besides what the
setup makes: `.venv`, `node_modules`, ...), or with commits no branch or remote holds, is kept
and said so, unless forced."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hatchdoit.core.errors import HatchdoitError
from hatchdoit.core.locks import exclusive
from hatchdoit.layout import Layout
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git, status_paths, try_git
from hatchdoit.run.workspace_sync import check_clone, discard_workspace, is_linked_worktree

# What a setup or a test run makes in a worktree and nobody commits: never "unsaved work".
PRODUCTS = (
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    "target",
)


@dataclass(frozen=True)
class Unsaved:
    """What removing a worktree would lose: changed or new files, commits held by no ref."""

    files: list[str]
    commits: int

    def __bool__(self) -> bool:
        return bool(self.files or self.commits)

    def describe(self) -> str:
        parts = []
        if self.files:
            shown = ", ".join(self.files[:3]) + (" ..." if len(self.files) > 3 else "")
            parts.append(f"{len(self.files)} uncommitted path(s): {shown}")
        if self.commits:
            parts.append(f"{self.commits} commit(s) on no branch, tag or remote")
        return "; ".join(parts)


def unsaved_work(
    repo: Path, worktree: Path, keep: tuple[str, ...] = (), delivered: str | None = None
) -> Unsaved:
    """What of `worktree` exists nowhere else: its uncommitted paths (the setup's products and
    `keep`, the paths copied in by workspace.copy, left out) and the commits of its HEAD that
    no other branch, tag, remote or hatchdoit ref holds, nor the `delivered` commit (its own
    branch counts when the repo has no remote: the branch stays; with a remote, commits not
    pushed count, beyond what was delivered)."""
    check_clone(repo, worktree)  # git runs only in the git directory hatchdoit made
    files: list[str] = []
    for entry in status_paths(worktree, "--untracked-files=normal"):
        path = entry.rstrip("/")
        first = path.split("/", 1)[0]
        if first in PRODUCTS or path in keep or first in keep or Path(path).name in PRODUCTS:
            continue
        files.append(path)
    if not is_linked_worktree(worktree):
        return Unsaved(sorted(files), _only_in_clone(repo, worktree, delivered))
    head = git(worktree, "rev-parse", "HEAD").strip()
    branch = try_git(worktree, "symbolic-ref", "-q", "--short", "HEAD").stdout.strip()
    if branch and not git(repo, "remote").strip():
        return Unsaved(sorted(files), 0)  # its branch stays, and holds its commits
    exclude = [f"--exclude={branch}"] if branch else []  # applies to the --branches after it
    others = ["--branches", "--tags", "--remotes", "--glob=refs/hatchdoit/*"]
    if delivered:
        others.append(delivered)
    left = git(repo, "rev-list", "--count", head, "--not", *exclude, *others)
    commits = int(left.strip() or 0)
    return Unsaved(sorted(files), commits)


def _only_in_clone(repo: Path, clone: Path, delivered: str | None) -> int:
    """How many commits of the clone (its HEAD, branches, tags and stash: a person may have
    committed or stashed there) no ref of the target repo holds, nor `delivered` (the clone sees
    the target's objects, so their tips are named to it by id)."""
    listed = git(repo, "for-each-ref", "--format=%(objectname)", *TARGET_REFS)
    tips = sorted(set(listed.split()) | ({delivered} if delivered else set()))
    own = ["HEAD", "--branches", "--tags"]
    if try_git(clone, "rev-parse", "--verify", "-q", "refs/stash").returncode == 0:
        own.append("refs/stash")
    left = git(clone, "rev-list", "--count", *own, "--not", *tips)
    return int(left.strip() or 0)


TARGET_REFS = ("refs/heads", "refs/tags", "refs/remotes", "refs/hatchdoit")


def disk_usage(path: Path) -> int:
    """Bytes `path` occupies on disk (allocated blocks; a hard-linked file once), like du."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_blocks * 512
    with contextlib.suppress(OSError):
        total += os.lstat(path).st_blocks * 512
    return total


def remove_worktree(repo: Path, layout: Layout, worktree: Path) -> None:
    """Delete the worktree (the caller has checked nothing is lost; the setup's products are
    untracked files git would otherwise refuse over: run/workspace_sync.discard_workspace), then
    prune, under the lock every worktree add and remove of the target repo takes. An older
    linked worktree locked with `git worktree lock` is refused (a StepError): someone asked to
    keep it."""
    with exclusive(layout.locks / "target-repo.lock", "the target repo", wait=True):
        if not is_linked_worktree(worktree):
            discard_workspace(repo, worktree)
        else:
            done = try_git(repo, "worktree", "remove", "--force", str(worktree))
            if done.returncode != 0 and worktree.is_dir():
                listed = git(repo, "worktree", "list", "--porcelain")
                if f"worktree {worktree.resolve()}" not in listed.splitlines():
                    shutil.rmtree(worktree)  # a directory of ours git no longer knows
                else:
                    git(repo, "worktree", "remove", "--force", str(worktree))  # raises: why
        git(repo, "worktree", "prune")


def retire_delivered(ctx: StepContext) -> None:
    """After delivery: remove the TaskSpec's worktree (workspace.remove_delivered), unless it
    holds work found nowhere else (then a WARN says what, and `hatchdoit gc --force` removes
    it). Its branch, receipts and logs stay."""
    workspace = ctx.project.config.workspace
    if not workspace.remove_delivered or not ctx.worktree.is_dir():
        return
    repo = ctx.project.target_repo
    try:
        delivered = ctx.project.approved_commit(ctx.tid)
        unsaved = unsaved_work(repo, ctx.worktree, tuple(workspace.copy_files), delivered)
        if not unsaved:
            size = disk_usage(ctx.worktree)
            remove_worktree(repo, ctx.layout, ctx.worktree)
    except (HatchdoitError, OSError) as exc:  # delivered all the same: gc can remove it later
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"delivered, but its worktree could not be removed ({exc}); hatchdoit gc removes it",
            operation="remove_worktree",
        )
        return
    if unsaved:
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"delivered, but its worktree is kept: {unsaved.describe()} "
            "(hatchdoit gc --force removes it)",
            operation="remove_worktree",
        )
        return
    ctx.audit("worktree_removed", why="delivered", bytes=size)
    ctx.log(
        "orchestrator",
        logging.INFO,
        f"delivered: worktree removed ({size // 1024} KiB); its branch, records and logs stay",
        operation="remove_worktree",
        path=ctx.layout.rel(ctx.worktree),
    )
