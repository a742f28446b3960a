"""Git queries and the target repo, through argv lists (worktree changes go through scripts/git).

Every git command hatchdoit runs goes through `try_git`, and every one may run in a repository an
agent could write (its worktree shares the target repo's config and hooks): so each is told to
ignore what an agent could plant there to run a program of its choosing when hatchdoit runs git
(`safe_git_argv`): hooks, `core.fsmonitor`, external diffs and textconv, clean/smudge filters and
custom merge drivers, the pager and editors, signing programs, an ssh command of the repo's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hatchdoit.core.errors import ConfigError, StepError
from hatchdoit.core.proc import run

SEEDED_MARK = "hatchdoit-seeded"  # in the git dir of a target repo hatchdoit made from a seed


def branch_of(tid: str) -> str:
    """The branch a TaskSpec's work is on."""
    return f"taskspec/{tid}"


# `-c` overrides outrank every config file (and what those include), so these hold whatever the
# repo's config says. A hooks path that is not a directory: git finds no hook there.
NEUTRAL_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null/no-hooks",
    "core.pager=cat",
    "core.editor=true",
    "sequence.editor=true",
    "diff.external=",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "log.showSignature=false",
    "gpg.program=false",
    "core.askPass=",
)
# Per-driver programs named in config (`filter.<name>.clean`, ...): planted names are found by
# asking git which are set, and each is overridden with no program.
DRIVER_KEYS = r"^(filter|diff|merge)\..+\.(clean|smudge|process|required|command|textconv|driver)$"
DRIVER_NEUTRAL = {
    "clean": "",
    "smudge": "",
    "process": "",
    "required": "false",
    "command": "",
    "textconv": "",
    "driver": "false",  # a custom merge driver "fails": the merge reports a conflict
}
# Commands that never read file contents through attributes: no need to look for drivers.
NO_DRIVERS = frozenset(
    {
        "rev-parse",
        "show-ref",
        "cat-file",
        "merge-base",
        "symbolic-ref",
        "update-ref",
        "for-each-ref",
        "rev-list",
        "commit-tree",
        "var",
        "config",
    }
)
# Output-only commands that would otherwise run a diff program or textconv filter.
DIFF_COMMANDS = frozenset({"diff", "log", "show", "diff-tree", "diff-index", "diff-files"})
# The environment every git command gets: no pager, no prompt, no editor; the index of a
# status is not rewritten; nothing of an external diff from hatchdoit's own environment.
NEUTRAL_ENV = {
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_EDITOR": "true",
    "GIT_SEQUENCE_EDITOR": "true",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
}
DROPPED_ENV = ("GIT_EXTERNAL_DIFF", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_CONFIG_PARAMETERS")


def _config_files(repo: Path) -> list[Path] | None:
    """The repository's own config files (`.git/config`; a linked worktree's common one and its
    `config.worktree`), read without running git; None when that cannot be told."""
    dot_git = repo / ".git"
    try:
        if dot_git.is_dir():
            return [dot_git / "config", dot_git / "config.worktree"]
        text = dot_git.read_text(encoding="utf-8")
        if not text.startswith("gitdir:"):
            return None
        gitdir = Path(text[len("gitdir:") :].strip())
        gitdir = gitdir if gitdir.is_absolute() else repo / gitdir
        common = Path((gitdir / "commondir").read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        return None
    common = common if common.is_absolute() else gitdir / common
    return [common / "config", gitdir / "config.worktree"]


def _config_signature(repo: Path) -> tuple[object, ...] | None:
    """What changes when the repository's own config does: each file's identity, size and
    time; None (ask git every time) when unknown or when a file includes others (their changes
    would not show here)."""
    files = _config_files(repo)
    if files is None:
        return None
    signature: list[object] = []
    for path in files:
        try:
            data = path.read_bytes()
            info = path.stat()
        except FileNotFoundError:
            signature.append(None)
            continue
        except OSError:
            return None
        if b"include" in data.lower():
            return None
        signature.append((info.st_ino, info.st_size, info.st_mtime_ns, hash(data)))
    return (str(repo), *signature)


_DRIVERS_SEEN: dict[str, tuple[tuple[object, ...], list[str]]] = {}


def planted_drivers(repo: Path) -> list[str]:
    """`-c` overrides for every filter, diff and merge driver program the repository's own
    config names (its `.git/config`, a worktree's config, what they include: agents can write
    those): the user's own (global or system) setting of the key where there is one, such as
    git-lfs's filter, else no program. Asked of git again whenever those files change."""
    signature = _config_signature(repo)
    seen = _DRIVERS_SEEN.get(str(repo))
    if signature is not None and seen is not None and seen[0] == signature:
        return seen[1]
    overrides = _ask_drivers(repo)
    if signature is not None:
        _DRIVERS_SEEN[str(repo)] = (signature, overrides)
    return overrides


def _ask_drivers(repo: Path) -> list[str]:
    done = run(
        ["git", "-C", str(repo), "config", "--show-scope", "--null", "--get-regexp", DRIVER_KEYS],
        check=False,
        env=_git_env(None),
        operation="git config",
    )
    fields = done.stdout.split("\0")
    users: dict[str, str] = {}
    planted: list[str] = []
    for scope, entry in zip(fields[0::2], fields[1::2], strict=False):
        key, _, value = entry.partition("\n")
        if scope in ("global", "system"):
            users[key] = value  # git prints section and name in lower case, the driver as set
        elif scope in ("local", "worktree") and key:
            planted.append(key)
    return [
        f"{key}={users.get(key, DRIVER_NEUTRAL[key.rsplit('.', 1)[1]])}"
        for key in dict.fromkeys(planted)
    ]


def safe_git_argv(repo: Path, args: tuple[str, ...]) -> list[str]:
    """`git -C repo ARGS` with what an agent could have planted in the repo switched off (see
    the module docstring)."""
    argv = ["git", "--no-pager", "-C", str(repo)]
    for item in NEUTRAL_CONFIG:
        argv += ["-c", item]
    command = args[0] if args else ""
    if command not in NO_DRIVERS:
        for item in planted_drivers(repo):
            argv += ["-c", item]
    argv.append(command)
    if command in DIFF_COMMANDS:
        argv += ["--no-ext-diff", "--no-textconv"]
    return [*argv, *args[1:]]


def _git_env(env: dict[str, str] | None) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    full.update(NEUTRAL_ENV)
    if env:
        full.update(env)
    return full


def try_git(
    repo: Path, *args: str, env: dict[str, str] | None = None, timeout: float | None = 120.0
) -> subprocess.CompletedProcess[str]:
    """`git -C repo ARGS`, whatever its exit code (a merge that may conflict, a question whose
    answer is the exit code). `env` is added to the environment (never credentials). Whatever
    the repo's config or hooks say, git runs no program of theirs (safe_git_argv)."""
    argv = safe_git_argv(repo, args)
    full = _git_env(env)
    if args and args[0] in NETWORK_COMMANDS and "GIT_SSH_COMMAND" not in full:
        # the environment outranks core.sshCommand: the repo's loses to the user's own
        full["GIT_SSH_COMMAND"] = _user_ssh_command()
    return run(argv, check=False, env=full, timeout=timeout, operation=f"git {args[0]}")


NETWORK_COMMANDS = frozenset({"push", "fetch", "pull", "ls-remote"})


@lru_cache(maxsize=1)
def _user_ssh_command() -> str:
    """core.sshCommand of the user's global config (never a repo's), else plain ssh."""
    done = run(
        ["git", "config", "--global", "--get", "core.sshCommand"],
        check=False,
        env=_git_env(None),
        operation="git config",
    )
    return done.stdout.strip() or "ssh"


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


def dirty_paths(worktree: Path) -> list[str]:
    """Paths with changes not in HEAD: staged, unstaged, and untracked files the repo's ignore
    rules do not ignore (what `git add -A` would commit)."""
    out = git(worktree, "status", "--porcelain=v1", "-z", "--untracked-files=all")
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
    return sorted(set(paths))


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
