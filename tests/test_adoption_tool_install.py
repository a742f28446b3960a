"""hatchdoit installed the way people install a Python command-line tool, from the wheel built
from this checkout: `pipx install --include-deps` and `uv tool install --with-executables-from
doit` (the README's two ways), each into a tool directory of its own. Then, with only those
tools' bin directory and the system's on PATH (nothing of this checkout or its .venv),
`hatchdoit` and `doit` are the tool's, `hatchdoit init` sets up a repo and `doit` builds a
TaskSpec with the scripted agent.

pipx and uv come from the test interpreter's environment (`bash .ci/setup --test` installs them
into .venv); the dependencies come from pip's and uv's own caches of the real home, so a machine
that has installed them once needs no network for this.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from projects import HatchProject
from test_adoption_wheel import build_wheel, run

pytestmark = pytest.mark.integration

TID = "T-TOOL-1"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
HERE = Path(sys.executable).parent


def real_cache(tool: str) -> str:
    """pip's or uv's cache directory of the real home (the tests' HOME is a temp one)."""
    argv = {
        "pip": [sys.executable, "-m", "pip", "cache", "dir"],
        "uv": [str(HERE / "uv"), "cache", "dir"],
    }[tool]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def install(tool: str, wheel: Path, tmp: Path, env: dict[str, str]) -> Path:
    """Install the wheel with pipx or uv into tmp; returns the bin directory of its commands."""
    bin_dir = tmp / f"{tool}-bin"
    if tool == "pipx":
        env = env | {
            "PIPX_HOME": str(tmp / "pipx-home"),
            "PIPX_BIN_DIR": str(bin_dir),
            "PIPX_DEFAULT_PYTHON": sys.executable,
            "PIP_CACHE_DIR": real_cache("pip"),
        }
        run([HERE / "pipx", "install", "--include-deps", wheel], tmp, env)
    else:
        env = env | {
            "UV_TOOL_DIR": str(tmp / "uv-tools"),
            "UV_TOOL_BIN_DIR": str(bin_dir),
            "UV_CACHE_DIR": real_cache("uv"),
            "UV_PYTHON_DOWNLOADS": "never",
        }
        argv = [HERE / "uv", "tool", "install", "--python", sys.executable]
        run([*argv, "--with-executables-from", "doit", wheel], tmp, env)
    return bin_dir


@pytest.mark.parametrize("tool", ["pipx", "uv"])
def test_the_wheel_as_a_tool_builds_a_taskspec(
    tool: str, project: HatchProject, tmp_path: Path
) -> None:
    if not (HERE / tool).is_file():
        pytest.fail(f"{tool} is not installed beside {sys.executable}: run bash .ci/setup --test")
    env = {k: v for k, v in project.env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheel = build_wheel(tmp_path, env)
    bin_dir = install(tool, wheel, tmp_path, env)
    env = env | {"PATH": f"{bin_dir}{os.pathsep}{SYSTEM_PATH}"}
    for command in ("hatchdoit", "doit"):
        found = shutil.which(command, path=env["PATH"])
        assert found is not None and Path(found).parent == bin_dir, (command, found)
    version = run(["hatchdoit", "--version"], tmp_path, env)
    assert "0.1.0" in version

    project.add_taskspec(TID, test_command="python3 -m unittest discover -s tests -q")
    repo = project.root.parent / "tool-repo"
    shutil.copytree(project.seed, repo)
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "theirs"]):
        run(["git", *argv], repo, env)
    run(["hatchdoit", "init", "--specs", project.planning, "--agent", "scripted"], repo, env)
    doctor = run(["hatchdoit", "doctor"], repo, env)
    assert f"hatchdoit 0.1.0 at {tmp_path}" in doctor, doctor  # the tool's, not the checkout's
    build_env = env | {"HATCHDOIT__TMUX_SOCKET": project.socket}  # the fixture ends it
    built = run(["doit"], repo, build_env)
    assert f"taskspec:{TID}" in built
    assert dataclasses.replace(project, root=repo).layout.done(TID).is_file()
