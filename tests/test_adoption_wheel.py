"""hatchdoit as a new user meets it: the wheel built from this checkout, installed into a fresh
virtualenv (not an editable install), `hatchdoit init` in a git repo of theirs that already has
its own `tests/`, an `agents/` package of its own and a `dodo.py`, a planning repo elsewhere,
then `doit` with the scripted agent chosen explicitly. Afterwards the repo's own pytest collects
only its own tests, and its agents/ and dodo.py tasks are as they were.

The virtualenv borrows the test interpreter's installed dependencies (a .pth line: offline, and
the editable install there is not picked up); hatchdoit itself comes from the wheel only."""

from __future__ import annotations

import dataclasses
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, tree_hashes
from projects import CHECKOUT, HatchProject

pytestmark = pytest.mark.integration

TID = "T-WHEEL-1"
USER_TEST = """import unittest


class AppTest(unittest.TestCase):
    def test_one(self) -> None:
        self.assertEqual(1 + 1, 2)

    def test_two(self) -> None:
        self.assertTrue("app")
"""
USER_AGENT = '''"""The user's own agents package: nothing to do with hatchdoit."""


def greet() -> str:
    return "hello"
'''
USER_DODO = '''"""The user's own doit tasks."""


def task_hello():
    """say hello"""
    return {"actions": ["echo hello"], "verbosity": 2}
'''


def run(argv: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(tmp: Path, env: dict[str, str]) -> Path:
    """The wheel of this checkout, built from a copy of its sources (the checkout stays clean)."""
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(CHECKOUT / name, source / name)
    shutil.copytree(
        CHECKOUT / "hatchdoit",
        source / "hatchdoit",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        symlinks=True,
    )
    dist = tmp / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    run([*pip, "-w", dist, source], tmp, env)
    (wheel,) = dist.glob("hatchdoit-*.whl")
    return wheel


def fresh_venv(tmp: Path, wheel: Path, env: dict[str, str]) -> Path:
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", venv], tmp, env)
    python = venv / "bin" / "python"
    purelib = run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp, env
    )
    borrowed = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib.strip(), "borrowed-deps.pth").write_text("\n".join(borrowed) + "\n")
    pip = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    run([*pip, "--disable-pip-version-check", wheel], tmp, env)
    return venv


def users_repo(project: HatchProject) -> Path:
    repo = project.root.parent / "users-repo"
    shutil.copytree(project.seed, repo)
    shutil.rmtree(repo / "tests")  # theirs, below
    (repo / "tests").mkdir()
    (repo / "tests" / "test_app.py").write_text(USER_TEST)
    (repo / "agents").mkdir()
    (repo / "agents" / "__init__.py").write_text(USER_AGENT)
    (repo / "agents" / "settings.yaml").write_text("model: theirs\n")  # YAML, not a profile
    (repo / "dodo.py").write_text(USER_DODO)
    env = project.env
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "the user's project", env=env)
    return repo


def test_the_wheel_in_a_fresh_venv_adopts_a_repo_of_its_own(
    project: HatchProject, tmp_path: Path
) -> None:
    env = {k: v for k, v in project.env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheel = build_wheel(tmp_path, env)
    venv = fresh_venv(tmp_path, wheel, env)
    bin_dir = venv / "bin"
    env = env | {"PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    installed = run(
        [bin_dir / "python", "-c", "import hatchdoit; print(hatchdoit.__file__)"], tmp_path, env
    )
    assert installed.startswith(str(venv)), installed  # the wheel's, not this checkout's

    project.add_taskspec(TID, test_command="python3 -m unittest discover -s tests -q")
    repo = users_repo(project)
    theirs = {name: tree_hashes(repo / name) for name in ("agents", "tests")}
    done = run(
        [bin_dir / "hatchdoit", "init", "--specs", project.planning, "--agent", "scripted"],
        repo,
        env,
    )
    assert "dodo.py exists: add these two lines" in done, done
    added = run(
        [bin_dir / "hatchdoit", "init", "--specs", project.planning, "--agent", "scripted",
         "--force"],
        repo, env,
    )  # fmt: skip
    assert "added hatchdoit's tasks to dodo.py:" in added
    assert not (repo / "scripts").exists()  # nothing copied
    doctor = run([bin_dir / "hatchdoit", "doctor"], repo, env)
    assert f"hatchdoit 0.1.0 at {Path(installed).parent.parent}" in doctor, doctor
    assert f"agents {repo / 'agents'} over the bundled" in doctor, doctor

    build_env = env | {"HATCHDOIT__TMUX_SOCKET": project.socket}  # the fixture ends it
    built = run([bin_dir / "python", "-m", "doit"], repo, build_env)
    assert f"taskspec:{TID}" in built
    own = dataclasses.replace(project, root=repo)
    assert own.layout.done(TID).is_file()
    # its worktree was .hatchdoit/worktrees/<ID> (removed once delivered: workspace.
    # remove_delivered), on a branch holding the user's own tests
    branch = run(["git", "ls-tree", "-r", "--name-only", f"taskspec/{TID}", "tests"], repo, env)
    assert "tests/test_app.py" in branch.split(), branch
    assert own.layout.integration(TID).is_file()  # merged: init writes integrate: merge
    assert not (repo / ".hatchdoit" / "worktrees" / TID).exists()
    hello = run([bin_dir / "python", "-m", "doit", "hello"], repo, build_env)
    assert "hello" in hello  # the user's own task, beside hatchdoit's

    collected = run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        repo,
        env,
    )
    tests = [line for line in collected.splitlines() if "::" in line]
    assert tests == ["tests/test_app.py::AppTest::test_one", "tests/test_app.py::AppTest::test_two"]
    assert {name: tree_hashes(repo / name) for name in ("agents", "tests")} == theirs
