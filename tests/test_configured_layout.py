"""hatchdoit.yaml's `worktrees:` is part of the project's layout wherever the package builds one:
the `doit -n N` supervisor's (build/workers.py), the project's own (project.py) and the
config loader's, never a default `Layout(root)` that puts worktrees in `_worktrees/`."""

from __future__ import annotations

import ast
from pathlib import Path

from projects import HatchProject, make_project

import hatchdoit
from hatchdoit.build.workers import _layout_of
from hatchdoit.project import load_project

PACKAGE = Path(hatchdoit.__file__).parent


def test_every_layout_the_package_builds_names_the_worktrees_dir() -> None:
    """`Layout(root)` alone would place worktrees in the default `_worktrees/` whatever
    hatchdoit.yaml says."""
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Layout"
                and len(node.args) + len(node.keywords) < 2
            ):
                bare.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert bare == []


def test_the_worker_supervisor_uses_the_configured_worktrees(tmp_path: Path) -> None:
    project: HatchProject = make_project(tmp_path)
    project.configure(worktrees=".hatchdoit/worktrees")
    loaded = load_project(project.root)
    assert loaded.layout.worktrees == project.root.resolve() / ".hatchdoit" / "worktrees"
    supervised = _layout_of(loaded.layout.locks / "build.lock")
    assert supervised is not None
    assert supervised.worktrees == loaded.layout.worktrees
    assert supervised.locks == loaded.layout.locks
