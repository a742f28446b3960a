"""Real projects for the workspace tests (test_workspace_*.py), made offline in temp dirs: a
`src/`-layout Python package installed editable in an outer virtualenv (the user's), and a Node
project whose dependency is a local `file:` package, with its lockfile."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git
from projects import IDENTITY, HatchProject

# The interpreter the tests' venv was made from: it has setuptools and pip, so venvs made with
# --system-site-packages install a project editable without the network.
BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python3")
PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "mylib"
version = "0.1"

[tool.setuptools.packages.find]
where = ["src"]
"""
MYLIB = '"""mylib."""\n\n\ndef square(x: int) -> int:\n    return x * x\n'
MYLIB_DOUBLE = MYLIB + "\n\ndef double(x: int) -> int:\n    return 2 * x\n"
TEST_SQUARE = """import unittest

from mylib import square


class SquareTest(unittest.TestCase):
    def test_square(self) -> None:
        self.assertEqual(square(3), 9)
"""
TEST_DOUBLE = """import unittest

from mylib import double


class DoubleTest(unittest.TestCase):
    def test_double(self) -> None:
        self.assertEqual(double(4), 8)
"""
PYTHON_SETUP = [
    [BASE_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", ".venv"],
    [".venv/bin/python", "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation",
     "-e", "."],
]  # fmt: skip
PYTHON_TESTS = "python -m unittest discover -s tests -q"


def fenced(files: dict[str, str]) -> str:
    """TaskSpec body blocks the scripted agent writes (```file:PATH```)."""
    return "".join(f"```file:{rel}\n{text.rstrip()}\n```\n\n" for rel, text in files.items())


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def make_target(project: HatchProject, files: dict[str, str]) -> Path:
    """The main checkout (target.repo `_target`), made by the user: git repo, one commit."""
    repo = project.root / "_target"
    write_files(repo, files)
    env = {**project.env, **IDENTITY}
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "initial", env=env)
    return repo


def python_project(project: HatchProject, tmp_path: Path) -> Path:
    """The src-layout package, installed editable from the main checkout in an outer venv
    that is active in the project's environment (PATH and VIRTUAL_ENV), as a user has it."""
    repo = make_target(
        project,
        {
            "pyproject.toml": PYPROJECT,
            "src/mylib/__init__.py": MYLIB,
            "tests/__init__.py": "",
            "tests/test_square.py": TEST_SQUARE,
            ".gitignore": "__pycache__/\n",
        },
    )
    outer = tmp_path / "outer"
    subprocess.run(
        [BASE_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", str(outer)],
        check=True,
    )
    subprocess.run(
        [str(outer / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
         "--no-build-isolation", "-e", str(repo)],
        check=True, capture_output=True, env={**project.env, "PIP_NO_CACHE_DIR": "1"},
    )  # fmt: skip
    project.env["VIRTUAL_ENV"] = str(outer)
    project.env["PATH"] = f"{outer / 'bin'}:{project.env['PATH']}"
    return repo


def npm_lock(directory: Path, env: dict[str, str]) -> str:
    """package-lock.json for the package.json in `directory`, made offline."""
    done = subprocess.run(
        ["npm", "install", "--package-lock-only", "--offline", "--no-audit", "--no-fund"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return (directory / "package-lock.json").read_text(encoding="utf-8")


def package_json(dependencies: dict[str, str]) -> str:
    data = {
        "name": "app",
        "version": "1.0.0",
        "private": True,
        "scripts": {"test": "node test.js"},
        "dependencies": dependencies,
    }
    return json.dumps(data, indent=2) + "\n"


def local_package(name: str, body: str) -> dict[str, str]:
    manifest = {"name": name, "version": "1.0.0", "main": "index.js"}
    return {
        f"vendor/{name}/package.json": json.dumps(manifest) + "\n",
        f"vendor/{name}/index.js": body,
    }


NODE_TEST = (
    "const assert = require('assert');\nassert.strictEqual(require('greet')('x'), 'hi x');\n"
)
NODE_TEST_SHOUT = NODE_TEST + "assert.strictEqual(require('shout')('x'), 'X!');\n"


def node_project(project: HatchProject, tmp_path: Path) -> dict[str, str]:
    """The Node project (its dependency `greet` is `file:vendor/greet`) as the main checkout;
    returns the files of a change adding a dependency of its own (`shout`), lockfile included."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    greet = local_package("greet", "module.exports = (n) => `hi ${n}`;\n")
    files = {**greet, "package.json": package_json({"greet": "file:vendor/greet"})}
    files["test.js"] = NODE_TEST
    scratch = tmp_path / "npm-scratch"
    write_files(scratch, files)
    files["package-lock.json"] = npm_lock(scratch, project.env)
    make_target(project, files)
    shout = local_package("shout", "module.exports = (s) => s.toUpperCase() + '!';\n")
    change = {
        **shout,
        "package.json": package_json({"greet": "file:vendor/greet", "shout": "file:vendor/shout"}),
        "test.js": NODE_TEST_SHOUT,
    }
    write_files(scratch, change)
    change["package-lock.json"] = npm_lock(scratch, project.env)
    return change


def committed_paths(repo: Path, commit: str) -> list[str]:
    """Every path of `commit`'s tree and of each commit before it."""
    out = git(repo, "log", "--format=", "--name-only", commit)
    return sorted({line for line in out.splitlines() if line})
