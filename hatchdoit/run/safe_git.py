"""Every git command hatchdoit runs may run in a repository an agent could write (its worktree,
a clone of the target repo with a config and hooks of its own): so each is told to ignore what
an agent could plant there to run a program of its choosing when hatchdoit runs git.
`safe_git_argv` and `git_env` are the one place: hooks (`core.hooksPath`), `core.fsmonitor`,
external diffs and textconv, the clean/smudge filters and merge drivers the repository's own
config names (the user's global value of such a key is kept: git-lfs's filter), the pager and
editors, signing programs, and what a network command would run from the repo's config: its
ssh command (the user's own is taken), `remote.<name>.uploadpack`/`receivepack`, `core.gitProxy`
(GIT_PROXY_COMMAND is set empty) and `ext::` URLs (`protocol.ext.allow=never`).
gitops.try_git uses them; scripts/lib/safe_git.sh does the same for the worktree scripts.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from hatchdoit.core.proc import run

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
    "protocol.ext.allow=never",  # `ext::<command>` URLs (a planted url or insteadOf) run nothing
    # a nested repository an agent made (a submodule entry) is not entered: its own config's
    # drivers would run, and only the outer repo's are overridden
    "diff.ignoreSubmodules=all",
    "submodule.recurse=false",
    "status.submoduleSummary=false",
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
        env=git_env(None),
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
    the module docstring). A repository of its own (a `.git` directory: a TaskSpec's clone) is
    named outright, its work tree too, whatever its config's `core.worktree` says."""
    argv = ["git", "--no-pager", "-C", str(repo)]
    dot_git = repo / ".git"
    if dot_git.is_dir() and not dot_git.is_symlink():
        here = repo.absolute()
        argv += [f"--git-dir={here / '.git'}", f"--work-tree={here}"]
    for item in NEUTRAL_CONFIG:
        argv += ["-c", item]
    command = args[0] if args else ""
    if command not in NO_DRIVERS:
        for item in planted_drivers(repo):
            argv += ["-c", item]
    argv.append(command)
    if command in NETWORK_COMMANDS:
        argv += pack_overrides(repo, command)
    if command in DIFF_COMMANDS:
        argv += ["--no-ext-diff", "--no-textconv"]
    return [*argv, *args[1:]]


def git_env(env: dict[str, str] | None) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    full.update(NEUTRAL_ENV)
    if env:
        full.update(env)
    return full


NETWORK_COMMANDS = frozenset({"push", "fetch", "pull", "ls-remote"})
# The programs a network command runs on the far side: over a local path (a TaskSpec's clone
# fetching from the target) they run HERE. A repo's own `remote.<name>.uploadpack` or
# `receivepack` (agents can write a clone's config) is overridden on the command line, the only
# place that outranks them (they are lists, a `-c` only adds to them); the user's global value
# is kept. A custom server-side path belongs in the global config (or `--upload-pack`).
PACK_KEYS = r"^remote\..+\.(uploadpack|receivepack)$"
PACK_FLAGS = {"uploadpack": "--upload-pack", "receivepack": "--receive-pack"}
PACK_OF = {"push": "receivepack", "fetch": "uploadpack", "pull": "uploadpack",
           "ls-remote": "uploadpack"}  # fmt: skip
_PACKS_SEEN: dict[str, tuple[tuple[object, ...], dict[str, str]]] = {}


def pack_overrides(repo: Path, command: str) -> list[str]:
    """`--upload-pack=...`/`--receive-pack=...` for `command` when the repo's own config names
    one (see PACK_KEYS): the user's global value, else git's own program."""
    signature = _config_signature(repo)
    seen = _PACKS_SEEN.get(str(repo))
    if signature is not None and seen is not None and seen[0] == signature:
        planted = seen[1]
    else:
        planted = _ask_packs(repo)
        if signature is not None:
            _PACKS_SEEN[str(repo)] = (signature, planted)
    kind = PACK_OF[command]
    return [f"{PACK_FLAGS[kind]}={planted[kind]}"] if kind in planted else []


def _ask_packs(repo: Path) -> dict[str, str]:
    done = run(
        ["git", "-C", str(repo), "config", "--show-scope", "--null", "--get-regexp", PACK_KEYS],
        check=False,
        env=git_env(None),
        operation="git config",
    )
    fields = done.stdout.split("\0")
    users: dict[str, str] = {}
    planted: dict[str, str] = {}
    for scope, entry in zip(fields[0::2], fields[1::2], strict=False):
        key, _, value = entry.partition("\n")
        kind = key.rsplit(".", 1)[-1]
        if scope in ("global", "system"):
            users.setdefault(kind, value)
        elif scope in ("local", "worktree") and kind in PACK_FLAGS:
            planted[kind] = ""
    default = {"uploadpack": "git-upload-pack", "receivepack": "git-receive-pack"}
    return {kind: users.get(kind, default[kind]) for kind in planted}


@lru_cache(maxsize=1)
def user_ssh_command() -> str:
    """core.sshCommand of the user's global config (never a repo's), else plain ssh."""
    done = run(
        ["git", "config", "--global", "--get", "core.sshCommand"],
        check=False,
        env=git_env(None),
        operation="git config",
    )
    return done.stdout.strip() or "ssh"
