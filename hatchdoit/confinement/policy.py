"""What a confined process may touch: the policy, independent of the sandbox that enforces it.

Writes: its workspace, its own temp dir, its config home and one output directory of its run
(plus, for now, the few `extra_write` paths the caller names: see steps/agent_session.py). The
workspace is a clone of the target repo whose `.git` is inside it (run/workspace_sync.py): the
target's objects and refs are read-only, as everything else outside those paths is.
Reads: everything but the usual credential stores, other runs' config homes, the target repo's
`.git/config`, and `confinement.deny_read` (minus `allow_read`). Network: the `hosts` listed
(empty: nothing; `any_host`: everything). No Unix socket can be opened (the sandbox's rule), so
the project's tmux server, an SSH or gpg agent, docker.sock and D-Bus are out of reach.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.hosts import agent_hosts, registry_hosts

# The usual credential stores, under $HOME (a trailing `*` is a glob of the sandbox's own).
CREDENTIAL_STORES = (
    ".ssh", ".aws", ".config/gh", ".gnupg", ".netrc", ".git-credentials", ".docker", ".kube",
    ".npmrc", ".pypirc", ".cargo/credentials", ".cargo/credentials.toml",
    ".config/git/credentials", ".password-store", ".azure", ".config/gcloud",
)  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """The rules for one confined process."""

    workspace: Path
    temp_dir: Path
    output_dir: Path | None = None  # the one output directory of its run
    config_home: Path | None = None
    extra_write: tuple[Path, ...] = ()
    deny_read: tuple[str, ...] = ()
    allow_read: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()  # host, host:port or *.domain; empty: no network
    any_host: bool = False
    # Files read as empty (bubblewrap binds an empty file over them): the target repo's .git/config,
    # which git must still open. srt can only make a file unreadable, which git refuses: under
    # srt a bubblewrap around it binds a scrubbed copy instead (gitconfig.py).
    emptied: tuple[str, ...] = ()
    git_config: Path | None = None  # the target repo's .git/config, hidden as above
    keep_no_proxy: bool = True  # False: loopback hosts are reached through the proxy
    notes: dict[str, str] = field(default_factory=dict)

    def writable(self) -> list[Path]:
        paths = [self.workspace, self.temp_dir, self.output_dir, self.config_home]
        return [p for p in (*paths, *self.extra_write) if p is not None]


def protected_paths(workspace: Path) -> list[Path]:
    """What stays read-only inside a writable workspace: its git metadata's config and hooks (a
    clone's own; an older linked worktree's `.git` is a file naming its git dir: that file).
    A defence in depth only: hatchdoit's own git never runs what a workspace's config names
    (run/safe_git.py), as an agent could rename `.git` and make another."""
    dot_git = workspace / ".git"
    if dot_git.is_dir():
        return [p for p in (dot_git / "config", dot_git / "hooks") if p.exists()]
    return [dot_git] if dot_git.exists() else []


def credential_paths(home: Path) -> list[str]:
    return [str(home / name) for name in CREDENTIAL_STORES]


def _expand(paths: Iterable[str], home: Path) -> list[str]:
    out = []
    for path in paths:
        if path == "~" or path.startswith("~/"):
            path = str(home) + path[1:]
        out.append(path)
    return out


def git_config_of(workspace: Path, target: Path | None = None) -> Path | None:
    """The target repo's `.git/config` (CI keeps tokens there): `target`'s when the caller
    knows it (an agent can rewrite what its clone says of its origin); else found from the
    workspace: a clone's alternates, an older linked worktree's common git dir, a repo's own."""
    if target is not None:
        return _config_of_repo(target)
    alternates = workspace / ".git" / "objects" / "info" / "alternates"
    try:
        first = alternates.read_text(encoding="utf-8").split("\n", 1)[0].strip()
    except (OSError, UnicodeDecodeError):
        first = ""
    if first:
        return Path(first).resolve().parent / "config"
    return _config_of_repo(workspace)


def _config_of_repo(repo: Path) -> Path | None:
    dot_git = repo / ".git"
    if dot_git.is_dir():
        return dot_git / "config"
    try:
        text = dot_git.read_text(encoding="utf-8")
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = Path(text.split(":", 1)[1].strip())
    gitdir = gitdir if gitdir.is_absolute() else (repo / gitdir).resolve()
    try:
        common = (gitdir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return gitdir / "config"
    base = Path(common) if Path(common).is_absolute() else (gitdir / common).resolve()
    return base / "config"


def git_write_paths(workspace: Path) -> list[Path]:
    """What `git add`/`git commit` writes outside an older version's linked worktree (kept
    working as it was: its objects, its own git dir and `refs/heads/taskspec/`); nothing for a
    clone, whose git metadata is inside the workspace."""
    dot_git = workspace / ".git"
    config = _config_of_repo(workspace)
    if config is None or dot_git.is_dir():
        return []
    common = config.parent
    own = Path(dot_git.read_text(encoding="utf-8").split(":", 1)[1].strip())
    paths = [common / "objects", own]
    for ref_dir in (common / "refs" / "heads" / "taskspec", common / "logs/refs/heads/taskspec"):
        if ref_dir.is_dir():
            paths.append(ref_dir)
    return paths


def base_deny(
    config: ConfinementConfig, home: Path, workspace: Path, others: Iterable[Path] = ()
) -> tuple[list[str], list[str]]:
    """(deny_read, allow_read) for a process in `workspace`; `others` are directories it must
    not read (other runs' config homes)."""
    deny = credential_paths(home) + [str(p) for p in others]
    deny += _expand(config.deny_read, home)
    return deny, _expand(config.allow_read, home)


def agent_policy(
    config: ConfinementConfig,
    *,
    workspace: Path,
    output_dir: Path,
    temp_dir: Path,
    config_home: Path,
    provider: str | None,
    env: Mapping[str, str],
    sessions_root: Path | None = None,
    extra_write: Iterable[Path] = (),
    base_urls: Iterable[str] = (),
    home: Path | None = None,
    target: Path | None = None,
) -> Policy:
    """An agent session: its workspace, its run's output directory, temp dir and config home;
    its provider's hosts (and the registries with `agent_network: registries`). `target`: the
    target repo, whose `.git/config` it reads as scrubbed."""
    home = home or Path(os.environ.get("HOME") or Path.home())
    others = [sessions_root] if sessions_root is not None else []
    deny, allow = base_deny(config, home, workspace, others)
    if sessions_root is not None:
        allow.append(str(config_home))
    hosts = agent_hosts(provider, env, base_urls)
    if config.agent_network == "registries":
        hosts += registry_hosts()
    loopback = any(h.split(":")[0] in ("127.0.0.1", "localhost", "[::1]") for h in hosts)
    return Policy(
        workspace=workspace,
        temp_dir=temp_dir,
        output_dir=output_dir,
        config_home=config_home,
        extra_write=(*git_write_paths(workspace), *extra_write),
        deny_read=tuple(deny),
        allow_read=tuple(allow),
        hosts=tuple(dict.fromkeys(hosts)),
        keep_no_proxy=not loopback,
        git_config=git_config_of(workspace, target),
    )


def command_policy(
    config: ConfinementConfig,
    *,
    workspace: Path,
    temp_dir: Path,
    network: str | None = None,
    home: Path | None = None,
    target: Path | None = None,
) -> Policy:
    """A command run on agent-written code (tests, post-merge tests, a workspace setup): it
    writes its workspace and temp dir; `network` none | registries | any (default:
    `confinement.test_network`). `target`: the target repo, whose `.git/config` reads empty."""
    home = home or Path(os.environ.get("HOME") or Path.home())
    deny, allow = base_deny(config, home, workspace)
    network = network or config.test_network
    hosts = registry_hosts() if network == "registries" else []
    git_config = git_config_of(workspace, target)
    return Policy(
        workspace=workspace,
        temp_dir=temp_dir,
        deny_read=tuple(deny),
        allow_read=tuple(allow),
        hosts=tuple(hosts),
        any_host=network == "any",
        emptied=(str(git_config),) if git_config is not None and git_config.exists() else (),
        git_config=git_config,
    )
