"""Git queries and the target repo, through argv lists (worktree changes go through scripts/git).

Every git command hatchdoit runs goes through `try_git`, which runs it so that nothing an agent
planted in the repository runs (safe_git.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hatchdoit.core.errors import ConfigError, StepError
from hatchdoit.core.proc import run
from hatchdoit.run.safe_git import NETWORK_COMMANDS, git_env, safe_git_argv, user_ssh_command

SEEDED_MARK = "hatchdoit-seeded"  # in the git dir of a target repo hatchdoit made from a seed


def branch_of(tid: str) -> str:
    """The branch a TaskSpec's work is on."""
    return f"taskspec/{tid}"


def try_git(
    repo: Path, *args: str, env: dict[str, str] | None = None, timeout: float | None = 120.0
) -> subprocess.CompletedProcess[str]:
    """`git -C repo ARGS`, whatever its exit code (a merge that may conflict, a question whose
    answer is the exit code). `env` is added to the environment (never credentials). Whatever
    the repo's config or hooks say, git runs no program of theirs (safe_git_argv)."""
    argv = safe_git_argv(repo, args)
    full = git_env(env)
    if args and args[0] in NETWORK_COMMANDS and "GIT_SSH_COMMAND" not in full:
        # the environment outranks core.sshCommand: the repo's loses to the user's own
        full["GIT_SSH_COMMAND"] = user_ssh_command()
    if args and args[0] in NETWORK_COMMANDS:
        full.setdefault("GIT_PROXY_COMMAND", "")  # set (even empty): core.gitProxy is not read
    return run(argv, check=False, env=full, timeout=timeout, operation=f"git {args[0]}")


def succeeds(repo: Path, *args: str) -> bool:
    return try_git(repo, *args).returncode == 0


def git(repo: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """`git -C repo ARGS`'s output; with `check`, a non-zero exit raises StepError."""
    done = try_git(repo, *args, env=env)
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise StepError(
            f"git {args[0]} exited {done.returncode}: {detail[-1] if detail else ''}",
            operation=f"git {args[0]}",
            path=repo,
        )
    return done.stdout


def current_branch(repo: Path) -> str:
    """The branch checked out in `repo`; a ConfigError when HEAD is detached (no branch)."""
    branch = try_git(repo, "symbolic-ref", "--short", "-q", "HEAD").stdout.strip()
    if not branch:
        raise ConfigError(
            "the target repo has no branch checked out (a detached HEAD): there is no branch to "
            "start worktrees from and integrate into",
            path=repo,
            field="target.integration_branch",
            fix="set target.integration_branch in hatchdoit.yaml, or check out a branch there",
        )
    return branch


def head_commit(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


_COMMIT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # a full SHA-1 or SHA-256 id


def branch_exists(repo: Path, branch: str) -> bool:
    """Whether `refs/heads/<branch>` exists in `repo`."""
    return succeeds(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}")


def has_commit(repo: Path, commit: str) -> bool:
    """Whether `commit` (a full id from our records) is a commit object in `repo`. An unreachable
    one counts until git prunes it: a deleted branch's work can still be brought back."""
    if not _COMMIT_ID.fullmatch(commit):
        return False
    return succeeds(repo, "cat-file", "-e", f"{commit}^{{commit}}")


def contains(repo: Path, ref: str, commit: str) -> bool:
    """Whether `commit` is `ref` or one of its ancestors."""
    return succeeds(repo, "merge-base", "--is-ancestor", commit, ref)


def ensure_repo(repo: Path, seed: Path | None) -> None:
    """Create the target repo from `seed` (copied and committed) if it does not exist yet."""
    if (repo / ".git").exists():
        return
    if seed is None:
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
    who = identity("hatchdoit", "hatchdoit@localhost")
    git(tmp, "commit", "-q", "-m", "Initial commit from the hatchdoit seed", env=who)
    (tmp / ".git" / SEEDED_MARK).write_text("made by hatchdoit from target.seed\n")
    os.replace(tmp, repo)  # the repo appears whole or not at all


def seeded(repo: Path) -> bool:
    """Whether hatchdoit made `repo` from target.seed (its checkout is hatchdoit's own)."""
    return (repo / ".git" / SEEDED_MARK).is_file()


def identity(name: str, email: str) -> dict[str, str]:
    """The environment that makes `name <email>` the author and committer of a commit (above
    the repo's config and any GIT_AUTHOR_* / GIT_COMMITTER_* the build was started with)."""
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def status_paths(worktree: Path, *args: str) -> list[str]:
    """The paths `git status --porcelain=v1 -z ARGS` lists in `worktree`, in its order (a
    rename's or copy's source path left out)."""
    out = git(worktree, "status", "--porcelain=v1", "-z", *args)
    paths: list[str] = []
    entries = out.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # a rename or copy: its source path follows
            index += 1
    return paths


def dirty_paths(worktree: Path, exclude: list[str] | None = None) -> list[str]:
    """Paths with changes not in HEAD: staged, unstaged, and untracked files the repo's ignore
    rules do not ignore (what `git add -A` would commit), less the `exclude` pathspecs."""
    spec = ["--", ".", *exclude] if exclude else []
    return sorted(set(status_paths(worktree, "--untracked-files=all", *spec)))


@dataclass(frozen=True)
class WorktreeState:
    """Where a worktree stands: HEAD's commit (None before the first), the branch ref HEAD is
    on (refs/heads/..., None when detached) and dirty_paths."""

    head: str | None
    branch: str | None
    dirty: list[str]


def _status_path(entry: str) -> str | None:
    """The path of one `git status --porcelain=v2 -z` entry (None for a header)."""
    kind = entry[:1]
    fields = {"1": 8, "2": 9, "u": 10}.get(kind)
    if fields is not None:
        parts = entry.split(" ", fields)
        return parts[fields] if len(parts) > fields else None
    return entry[2:] if kind == "?" else None


def worktree_state(worktree: Path, exclude: list[str] | None = None) -> WorktreeState:
    """head_commit, head_ref and dirty_paths of `worktree` from one git process (`status
    --porcelain=v2 --branch`): the steps ask all three after every agent session, and each git
    process costs milliseconds."""
    spec = ["--", ".", *exclude] if exclude else []
    status = ("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all")
    out = git(worktree, *status, *spec)
    head: str | None = None
    branch: str | None = None
    dirty: set[str] = set()
    entries = out.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            head = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            name = entry.removeprefix("# branch.head ")
            branch = None if name == "(detached)" else f"refs/heads/{name}"
        elif (path := _status_path(entry)) is not None:
            dirty.add(path)
            if entry[0] == "2":  # a rename or copy: its source path follows
                index += 1
    return WorktreeState(head=head, branch=branch, dirty=sorted(dirty))


def head_ref(worktree: Path) -> str | None:
    """The branch ref HEAD is on (refs/heads/...), None when it is detached."""
    return try_git(worktree, "symbolic-ref", "-q", "HEAD").stdout.strip() or None


@dataclass(frozen=True)
class LocDiff:
    added: int
    removed: int
    files: list[str]


def loc_between(repo: Path, base: str, commit: str) -> LocDiff:
    """Lines added and removed from `base` to `commit`, text files only (a binary file is listed
    with no lines): what was committed, never what tests or tools left in a worktree."""
    added = removed = 0
    files: list[str] = []
    for line in git(repo, "diff", "--numstat", "--no-renames", base, commit).splitlines():
        plus, minus, path = line.split("\t", 2)
        files.append(path)
        if plus != "-":  # binary files have no line counts
            added += int(plus)
            removed += int(minus)
    return LocDiff(added=added, removed=removed, files=sorted(set(files)))
