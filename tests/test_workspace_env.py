"""The workspace's environment and what it keeps out of git, in small: the rule of README "Your
project's environment" on PATH and VIRTUAL_ENV, and hatchdoit's staging and cleaning leaving
`workspace.copy` and the setup's products alone in a real git repo (no ignore file changed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import git
from projects import IDENTITY

from hatchdoit.agents.session_env import workspace_env
from hatchdoit.config.workspace_models import WorkspaceConfig
from hatchdoit.run.gitops import dirty_paths
from hatchdoit.run.workspace_files import (
    clean_excludes,
    copy_into,
    exclude_pathspecs,
    path_dirs,
    workspace_environ,
)


def test_the_users_venv_leaves_path_and_the_worktrees_takes_its_place(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    (worktree / ".venv" / "bin").mkdir(parents=True)
    (worktree / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (worktree / "node_modules" / ".bin").mkdir(parents=True)
    env = {"PATH": "/home/u/venv/bin:/usr/bin", "VIRTUAL_ENV": "/home/u/venv", "HOME": "/h"}
    out = workspace_environ(WorkspaceConfig(setup=[["true"]]), worktree, env)
    assert out["PATH"].split(os.pathsep) == [
        str(worktree / ".venv" / "bin"), str(worktree / "node_modules" / ".bin"), "/usr/bin"
    ]  # fmt: skip
    assert out["VIRTUAL_ENV"] == str(worktree / ".venv") and out["HOME"] == "/h"


def test_without_an_environment_of_its_own_the_users_stays(tmp_path: Path) -> None:
    env = {"PATH": "/home/u/venv/bin:/usr/bin", "VIRTUAL_ENV": "/home/u/venv"}
    assert workspace_environ(WorkspaceConfig(), tmp_path, env) == env
    # a node-only workspace with a setup: the user's venv goes, nothing names a venv
    out = workspace_env(env, [tmp_path / "node_modules/.bin"], None, own=True)
    assert "VIRTUAL_ENV" not in out
    assert out["PATH"] == f"{tmp_path / 'node_modules/.bin'}{os.pathsep}/usr/bin"
    ws = WorkspaceConfig(path=["tools/bin"])
    assert path_dirs(ws, tmp_path) == [tmp_path / "tools/bin"]  # given: whether or not it exists


def test_copied_files_and_setup_products_stay_out_of_staging_and_cleaning(tmp_path: Path) -> None:
    main, repo = tmp_path / "main", tmp_path / "repo"
    main.mkdir()
    (main / ".env").write_text("TOKEN=x\n", encoding="utf-8")
    env = {**os.environ, **IDENTITY}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    (repo / "a.py").write_text("a = 1\n", encoding="utf-8")
    ws = WorkspaceConfig.model_validate({"copy": [".env"], "path": ["env/bin"]})
    assert copy_into(ws, main, repo) == [".env"]
    assert copy_into(ws, main, repo) == []  # there already: kept as it is
    for made in (".venv/bin/python", "pkg/node_modules/x/index.js", "src/a.egg-info/PKG-INFO",
                 "env/bin/tool"):  # fmt: skip
        (repo / made).parent.mkdir(parents=True, exist_ok=True)
        (repo / made).write_text("x\n", encoding="utf-8")
    assert dirty_paths(repo, exclude_pathspecs(ws)) == ["a.py"]
    git(repo, "add", "-A", "--", ".", *exclude_pathspecs(ws), env=env)
    assert git(repo, "diff", "--cached", "--name-only", env=env).split() == ["a.py"]
    git(repo, "commit", "-q", "-m", "a", env=env)
    (repo / "stray.txt").write_text("by-product\n", encoding="utf-8")
    git(repo, "clean", "-q", "-f", "-d", *clean_excludes(ws), env=env)
    assert not (repo / "stray.txt").exists()
    for kept in (".env", ".venv/bin/python", "pkg/node_modules/x/index.js", "env/bin/tool"):
        assert (repo / kept).is_file(), kept
    assert ".env" not in (repo / ".git" / "info" / "exclude").read_text(encoding="utf-8")
