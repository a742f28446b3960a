"""What a workspace holds that git must not: the files `workspace.copy` brings from the main
checkout (`.env`, local config) and what the setup makes (`.venv`, `node_modules`, a package's
`*.egg-info`). They are never part of a commit hatchdoit makes, nor removed by the cleaning
between steps.

Linked worktrees share one `info/exclude` and the user's `.gitignore` is theirs: neither is
changed. hatchdoit keeps these paths out where it stages, lists or cleans files itself, by
pathspec (`:(exclude,glob)...`) and by `git clean -e`.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from hatchdoit.agents.session_env import workspace_env
from hatchdoit.config.workspace_models import WorkspaceConfig

# What setups make, at any depth (a monorepo has a node_modules per package).
PRODUCTS = (".venv", "node_modules", "*.egg-info", "__pypackages__")
DEFAULT_PATH = (".venv/bin", "node_modules/.bin")


def _anchored(ws: WorkspaceConfig) -> list[str]:
    """Worktree-relative paths kept out as they are: the copied files and the top directory of
    each `workspace.path` entry (`env/bin` -> `env`)."""
    found = [p.strip("/") for p in ws.copy_files]
    found += [Path(p).parts[0] for p in (ws.path or []) if Path(p).parts]
    return sorted({p for p in found if p and p != "."})


def exclude_pathspecs(ws: WorkspaceConfig) -> list[str]:
    """Pathspecs leaving the kept-out paths out of `git add`, `git status`, ..."""
    specs = [f":(exclude,glob)**/{name}" for name in PRODUCTS]
    specs += [f":(exclude,glob)**/{name}/**" for name in PRODUCTS]
    for rel in _anchored(ws):
        specs += [f":(exclude,literal){rel}"]
    return specs


def keep_args(ws: WorkspaceConfig) -> list[str]:
    """remove_worktree.sh arguments: a worktree holding only these besides its commits may go."""
    return [arg for spec in exclude_pathspecs(ws) for arg in ("--keep", spec)]


def clean_excludes(ws: WorkspaceConfig) -> list[str]:
    """`git clean` arguments that keep the kept-out paths (gitignore-style patterns)."""
    args: list[str] = []
    for name in PRODUCTS:
        args += ["-e", name]
    for rel in _anchored(ws):
        args += ["-e", "/" + rel]
    return args


def copy_into(ws: WorkspaceConfig, main: Path, worktree: Path) -> list[str]:
    """Copy each `workspace.copy` path the main checkout has and the worktree lacks; returns
    what was copied. A path the main checkout lacks is skipped (a teammate without a .env)."""
    copied = []
    for rel in ws.copy_files:
        source, target = main / rel, worktree / rel
        if target.exists() or not source.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)
        copied.append(rel)
    return copied


def path_dirs(ws: WorkspaceConfig, worktree: Path) -> list[Path]:
    """The directories first on the agent's and the test commands' PATH: `workspace.path`
    resolved in the worktree, or, unset, `.venv/bin` and `node_modules/.bin` where they exist."""
    if ws.path is not None:
        return [worktree / p for p in ws.path]
    return [worktree / p for p in DEFAULT_PATH if (worktree / p).is_dir()]


def workspace_environ(
    ws: WorkspaceConfig, worktree: Path, env: Mapping[str, str]
) -> dict[str, str]:
    """`env` as the agent and the test commands in `worktree` see it (session_env.workspace_env):
    the worktree's `.venv` is the VIRTUAL_ENV where it has one."""
    venv = worktree / ".venv"
    has_venv = (venv / "pyvenv.cfg").is_file()
    return workspace_env(
        env, path_dirs(ws, worktree), venv if has_venv else None, bool(ws.setup) or has_venv
    )
