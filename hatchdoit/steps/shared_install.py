"""The trap of a shared environment: without `workspace.setup`, a worktree's tests run with the
user's own `python`, and if that one has the target installed editable (`pip install -e .`) from
the main checkout, they import the main checkout's code, not the worktree's: correct work fails
its checks. `hatchdoit doctor` and the first build say so, with the fix."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.logs import log
from hatchdoit.project import Project
from hatchdoit.run.gitops import try_git

# Run by the PATH's python: the distributions installed editable, with where from.
_EDITABLE = """
import json, importlib.metadata as md
found = []
for dist in md.distributions():
    try:
        url = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        continue
    if url.get("dir_info", {}).get("editable") and url.get("url", "").startswith("file://"):
        found.append([dist.metadata["Name"], url["url"][len("file://"):]])
print(json.dumps(found))
"""
SETUP_EXAMPLE = "[[python3, -m, venv, .venv], [.venv/bin/pip, install, -e, '.[test]']]"
FIX = (
    f"give each worktree its own environment: workspace.setup: {SETUP_EXAMPLE} in "
    "hatchdoit.yaml (README: Your project's environment)"
)


def path_python(environ: Mapping[str, str]) -> str | None:
    """The `python` (else `python3`) a test command would find on PATH."""
    for name in ("python", "python3"):
        found = shutil.which(name, path=environ.get("PATH", os.defpath))
        if found:
            return found
    return None


def editable_from(repo: Path, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(python, distribution) when the PATH's python has a distribution installed editable from
    `repo` (the main checkout); None otherwise, or when that cannot be told."""
    python = path_python(environ)
    if python is None:
        return None
    try:
        done = subprocess.run(
            [python, "-c", _EDITABLE],
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        found = json.loads(done.stdout) if done.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    root = repo.resolve()
    for name, where in found:
        path = Path(where).resolve()
        if path == root or root in path.parents:
            return python, str(name)
    return None


def python_packaged(repo: Path) -> bool:
    """Whether `repo` tracks a Python package's build file anywhere (else nothing in it can be
    installed editable, and the PATH's python need not be asked)."""
    names = ("pyproject.toml", "setup.py", "setup.cfg")
    done = try_git(repo, "ls-files", "--", *names, *(f"*/{name}" for name in names))
    return done.returncode == 0 and bool(done.stdout.strip())


def shared_install_problem(project: Project, environ: Mapping[str, str]) -> str | None:
    """The one line saying the worktrees' tests would import the main checkout's code, if so."""
    if project.config.workspace.setup or not python_packaged(project.target_repo):
        return None
    found = editable_from(project.target_repo, environ)
    if found is None:
        return None
    python, name = found
    return (
        f"{python} has {name} installed editable from {project.target_repo}: the tests in a "
        "worktree would import the main checkout's code, not the worktree's"
    )


def warn_first_build(project: Project, environ: Mapping[str, str]) -> str | None:
    """At the project's first build only: the WARN line (printed and logged) when the worktrees'
    tests would import the main checkout's code; None when they would not."""
    marker = project.layout.logs / "shared-install-check.json"
    if marker.exists():
        return None
    problem = shared_install_problem(project, environ)
    write_json_atomic(marker, {"problem": problem})
    if problem is None:
        return None
    line = f"hatchdoit: WARN: {problem} (fix: {FIX})"
    log(project.logger("orchestrator"), logging.WARNING, line, operation="workspace")
    return line
