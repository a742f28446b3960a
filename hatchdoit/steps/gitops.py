"""Git queries and the target repo, through argv lists (worktree changes go through scripts/git)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from hatchdoit.core.proc import run

GIT_IDENTITY = ["-c", "user.name=hatchdoit", "-c", "user.email=hatchdoit@localhost"]


def git(repo: Path, *args: str, check: bool = True) -> str:
    return run(["git", "-C", str(repo), *args], check=check, operation=f"git {args[0]}").stdout


def current_branch(repo: Path) -> str:
    return git(repo, "symbolic-ref", "--short", "HEAD").strip()


def head_commit(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


_COMMIT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # a full SHA-1 or SHA-256 id


def branch_exists(repo: Path, branch: str) -> bool:
    """Whether `refs/heads/<branch>` exists in `repo`."""
    argv = ["git", "-C", str(repo), "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"]
    return run(argv, check=False, operation="git show-ref").returncode == 0


def has_commit(repo: Path, commit: str) -> bool:
    """Whether `commit` (a full id from our records) is a commit object in `repo`. An unreachable
    one counts until git prunes it: a deleted branch's work can still be brought back."""
    if not _COMMIT_ID.fullmatch(commit):
        return False
    argv = ["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"]
    return run(argv, check=False, operation="git cat-file").returncode == 0


def contains(repo: Path, ref: str, commit: str) -> bool:
    """Whether `commit` is `ref` or one of its ancestors."""
    argv = ["git", "-C", str(repo), "merge-base", "--is-ancestor", commit, ref]
    return run(argv, check=False, operation="git merge-base").returncode == 0


def ensure_repo(repo: Path, seed: Path | None) -> None:
    """Create the target repo from `seed` (copied and committed) if it does not exist yet."""
    if (repo / ".git").exists():
        return
    if seed is None:
        from hatchdoit.core.errors import ConfigError

        raise ConfigError(
            "target repo is not a git repository",
            path=repo,
            field="target.repo",
            fix="point target.repo at a git repo, or set target.seed to create one",
        )
    tmp = repo.with_name(f".{repo.name}.creating-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(seed, tmp)
    run(["git", "init", "-q", "-b", "main", str(tmp)], operation="git init")
    git(tmp, "add", "-A")
    git(tmp, *GIT_IDENTITY, "commit", "-q", "-m", "Initial commit from the hatchdoit seed")
    os.replace(tmp, repo)  # the repo appears whole or not at all


@dataclass(frozen=True)
class LocDiff:
    added: int
    removed: int
    files: list[str]


def loc_added(worktree: Path, base_commit: str) -> LocDiff:
    """Lines added and removed versus `base_commit`, committed, staged, unstaged and untracked."""
    added = removed = 0
    files: list[str] = []
    for line in git(worktree, "diff", "--numstat", base_commit).splitlines():
        plus, minus, path = line.split("\t", 2)
        files.append(path)
        if plus != "-":  # binary files have no line counts
            added += int(plus)
            removed += int(minus)
    untracked = git(worktree, "ls-files", "--others", "--exclude-standard", "-z")
    for path in filter(None, untracked.split("\0")):
        files.append(path)
        try:
            with open(worktree / path, "rb") as fh:
                added += sum(1 for _ in fh)
        except OSError:
            continue
    return LocDiff(added=added, removed=removed, files=sorted(set(files)))
