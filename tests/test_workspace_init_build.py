"""What `hatchdoit init` writes for a Python project is a setup that works: a `src/`-layout
package, installed editable from the main checkout in the user's active virtualenv, with a
dependency (a wheel made here; the package managers are pointed at it by their own
variables, `PIP_FIND_LINKS` / `UV_FIND_LINKS`, as a user's index settings would be), `hatchdoit
init --specs <plan> --agent scripted`, then `doit`. The TaskSpec names no test command: it takes
the one init wrote (planning.defaults), runs it in its worktree's own `.venv`, and is done at
attempt 1; the integration worktree is set up the same way and its post-merge tests pass. Once
with uv on PATH (init writes `uv venv` + `uv pip`), once without (a venv with its own pip)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import git, run_doit
from daily_use import hatchdoit
from projects import HatchProject
from workspace_projects import BASE_PYTHON, TEST_DOUBLE, fenced, write_files

from hatchdoit.layout import Layout
from hatchdoit.records.models import DoneRecord, IntegrationRecord
from hatchdoit.records.schemas import load_valid
from hatchdoit.records.setup_record import SetupRecord

pytestmark = pytest.mark.integration
TID = "T-DOUBLE"

# An in-tree build backend (PEP 517 and 660): the project builds with nothing installed, offline.
BACKEND = """import os, zipfile

DIST = "mylib-0.1.dist-info"
META = "Metadata-Version: 2.1\\nName: mylib\\nVersion: 0.1\\nRequires-Dist: tinydep\\n"
WHEEL = "Wheel-Version: 1.0\\nGenerator: inline\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"


def _wheel(directory, files):
    files = {**files, DIST + "/METADATA": META, DIST + "/WHEEL": WHEEL, DIST + "/RECORD": ""}
    name = "mylib-0.1-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return name


def get_requires_for_build_editable(config_settings=None):
    return []


get_requires_for_build_wheel = get_requires_for_build_editable


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {"_mylib.pth": os.path.abspath("src") + "\\n"})


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    text = open(os.path.join("src", "mylib", "__init__.py")).read()
    return _wheel(wheel_directory, {"mylib/__init__.py": text})
"""
PYPROJECT = """[build-system]
requires = []
build-backend = "backend"
backend-path = ["_build"]

[project]
name = "mylib"
version = "0.1"
dependencies = ["tinydep"]
"""
MYLIB = "from tinydep import TWO\n\n\ndef square(x: int) -> int:\n    return x * x\n"
MYLIB_DOUBLE = MYLIB + "\n\ndef double(x: int) -> int:\n    return TWO * x\n"
TEST_SQUARE = """import unittest

from mylib import square


class SquareTest(unittest.TestCase):
    def test_square(self) -> None:
        self.assertEqual(square(3), 9)
"""


def write_dependency(wheels: Path) -> None:
    """tinydep 1.0, a pure-Python wheel with its RECORD."""
    files = {"tinydep/__init__.py": b"TWO = 2\n"}
    dist = "tinydep-1.0.dist-info"
    files[f"{dist}/METADATA"] = b"Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n"
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    files[f"{dist}/RECORD"] = ("\n".join([*lines, f"{dist}/RECORD,,"]) + "\n").encode()
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "tinydep-1.0-py3-none-any.whl", "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)


def uv_dir() -> str | None:
    found = shutil.which("uv", path=f"{Path(sys.executable).parent}{os.pathsep}{os.defpath}")
    return str(Path(found).parent) if found else None


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_inits_own_setup_builds_a_src_layout_project_done_at_attempt_one(
    project: HatchProject, tmp_path: Path, installer: str
) -> None:
    uv = uv_dir()
    path = [d for d in project.env["PATH"].split(os.pathsep) if not (Path(d) / "uv").exists()]
    if installer == "uv":
        if uv is None:
            pytest.skip("uv is not installed (the test extra installs it)")
        path.insert(0, uv)
    wheels = tmp_path / "wheels"
    write_dependency(wheels)
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "UV_NO_INDEX": "1",
               "UV_FIND_LINKS": str(wheels), "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
               "PIP_CACHE_DIR": str(tmp_path / "pip-cache"), "UV_PYTHON_DOWNLOADS": "never",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # fmt: skip
    env = {**project.env, **offline, "PATH": os.pathsep.join(path)}
    env.pop("VIRTUAL_ENV", None)
    env["HATCHDOIT__TMUX_SOCKET"] = project.socket
    repo = project.root.parent / "own"
    write_files(
        repo,
        {
            "pyproject.toml": PYPROJECT,
            "_build/backend.py": BACKEND,
            "src/mylib/__init__.py": MYLIB,
            "tests/__init__.py": "",
            "tests/test_square.py": TEST_SQUARE,
            ".gitignore": "__pycache__/\n",
        },
    )
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "mylib", env=env)
    # the user's active virtualenv, with mylib installed editable from the main checkout
    outer = tmp_path / "outer"
    made = [BASE_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", str(outer)]
    subprocess.run(made, check=True, env=env)
    pip = [str(outer / "bin" / "python"), "-m", "pip", "install", "-q", "-e", str(repo)]
    subprocess.run(pip, check=True, capture_output=True, env={**env, "PIP_NO_CACHE_DIR": "1"})
    env["VIRTUAL_ENV"], env["PATH"] = str(outer), f"{outer / 'bin'}{os.pathsep}{env['PATH']}"
    own = dataclasses.replace(project, root=repo, env=env)
    body = "Add `mylib.double(x)` and its test.\n\n" + fenced(
        {"src/mylib/__init__.py": MYLIB_DOUBLE, "tests/test_double.py": TEST_DOUBLE}
    )
    spec = project.add_taskspec(TID, body=body)
    text = spec.read_text(encoding="utf-8")  # no test_command: planning.defaults gives it
    spec.write_text(
        "".join(line for line in text.splitlines(True) if not line.startswith("test_command:")),
        encoding="utf-8",
    )

    done = hatchdoit(own, "init", "--specs", str(project.planning), "--agent", "scripted")
    assert done.returncode == 0, done.stderr
    kind = "python (uv venv + uv pip)" if installer == "uv" else "python (venv + pip)"
    assert f"project: {kind} (" in done.stdout, done.stdout
    config = yaml.safe_load((repo / "hatchdoit.yaml").read_text(encoding="utf-8"))
    setup = config["workspace"]["setup"]
    assert setup[0][0] == ("uv" if installer == "uv" else "python3"), setup
    test_command = [".venv/bin/python", "-m", "unittest", "discover", "-q"]
    assert config["planning"]["defaults"]["test_command"] == test_command

    built = run_doit(own, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    layout = Layout(repo, config["worktrees"])
    state = layout.state_dir(TID)
    assert load_valid(state / "done.json", DoneRecord).attempt == 1
    record = load_valid(state / "setup.json", SetupRecord)
    assert record.passed and [run.command for run in record.runs] == setup
    checks = layout.checks_log(TID, 1).read_text(encoding="utf-8")
    assert "Ran 2 tests" in checks, checks
    integration = load_valid(state / "integrate.json", IntegrationRecord)
    assert integration.outcome == "integrated" and integration.tests, integration
    assert integration.tests[-1].command == test_command and integration.tests[-1].exit_code == 0
    merged = layout.integration_worktree
    assert (merged / ".venv" / "pyvenv.cfg").is_file()  # set up there too, by the same setup
    if installer == "uv":
        assert not (merged / ".venv" / "bin" / "pip").exists()  # uv's venv: no pip of its own
    assert git(repo, "show", "main:src/mylib/__init__.py", env=env) == MYLIB_DOUBLE
    committed = git(repo, "ls-tree", "-r", "--name-only", "main", env=env).split()
    assert "tests/test_double.py" in committed
    assert not [p for p in committed if p.startswith(".venv")]  # the venv ignores itself
