"""Git queries and the target repo, through argv lists (worktree changes go through scripts/git)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hatchdoit.proc import run

GIT_IDENTITY = ["-c", "user.name=hatchdoit", "-c", "user.email=hatchdoit@localhost"]


def git(repo: Path, *args: str, check: bool = True) -> str:
    return run(["git", "-C", str(repo), *args], check=check, operation=f"git {args[0]}").stdout


def current_branch(repo: Path) -> str:
    return git(repo, "symbolic-ref", "--short", "HEAD").strip()


def head_commit(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def ensure_repo(repo: Path, seed: Path | None) -> None:
    """Create the target repo from `seed` (copied and committed) if it does not exist yet."""
    if (repo / ".git").exists():
        return
    if seed is None:
        from hatchdoit.errors import ConfigError

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
