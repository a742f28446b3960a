"""`hatchdoit init` on real project layouts (temp dirs holding the marker files): what it
detects, and the hatchdoit.yaml it writes loads, validates and gives every TaskSpec that names
no test command the detected one (cli/init_detect.py, docs/workspace.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from projects import write_featspec

from hatchdoit.cli.init_detect import (
    CARGO_TARGET,
    PYTHON_TEST,
    UV_PIP_INSTALL,
    VENV,
    VENV_IGNORED,
    detect_project,
    tool_of,
)
from hatchdoit.cli.scaffold import init_project
from hatchdoit.config.loader import load_config
from hatchdoit.planning.plan import load_plan

PYPROJECT = """\
[project]
name = "mylib"
version = "0.1"
dependencies = ["attrs"]

[project.optional-dependencies]
test = ["pytest"]
"""
NODE_TEST = {"name": "app", "version": "1.0.0", "scripts": {"test": "node --test"}}
PIP = [".venv/bin/python", "-m", "pip", "install", "-q"]

# layout name -> (files, the setup, the test command, the kind said)
LAYOUTS: dict[str, tuple[dict[str, str], list[list[str]], list[str] | None, str]] = {
    "python-venv": (
        {"pyproject.toml": PYPROJECT},
        [VENV, VENV_IGNORED, [*PIP, "-e", ".[test]"]],
        PYTHON_TEST,
        "python (venv + pip)",
    ),
    "python-no-extra": (
        {"setup.py": "from setuptools import setup\nsetup(name='x')\n"},
        [VENV, VENV_IGNORED, [*PIP, "-e", "."]],
        [".venv/bin/python", "-m", "unittest", "discover", "-q"],
        "python (venv + pip)",
    ),
    "python-requirements": (
        {"requirements.txt": "attrs\n", "requirements-dev.txt": "pytest\n"},
        [
            VENV,
            VENV_IGNORED,
            [*PIP, "-r", "requirements-dev.txt", "-r", "requirements.txt"],
        ],
        PYTHON_TEST,
        "python (venv + pip)",
    ),
    "python-uv": (
        {"pyproject.toml": PYPROJECT, "uv.lock": "version = 1\n"},
        [["uv", "sync", "--frozen", "--link-mode", "copy", "--extra", "test"]],
        PYTHON_TEST,
        "python (uv)",
    ),
    "npm": (
        {"package.json": json.dumps(NODE_TEST), "package-lock.json": "{}"},
        [["npm", "ci"]],
        ["npm", "test"],
        "node (npm, package-lock.json)",
    ),
    "pnpm": (
        {"package.json": json.dumps(NODE_TEST), "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"},
        [["pnpm", "install", "--frozen-lockfile", "--package-import-method", "copy"]],
        ["pnpm", "test"],
        "node (pnpm, pnpm-lock.yaml)",
    ),
    "yarn-berry": (
        {"package.json": json.dumps(NODE_TEST), "yarn.lock": "", ".yarnrc.yml": ""},
        [["yarn", "install", "--immutable"]],
        ["yarn", "test"],
        "node (yarn, yarn.lock)",
    ),
    "yarn-classic": (
        {
            "package.json": json.dumps({**NODE_TEST, "packageManager": "yarn@1.22.22"}),
            "yarn.lock": "",
        },
        [["yarn", "install", "--frozen-lockfile"]],
        ["yarn", "test"],
        "node (yarn, yarn.lock)",
    ),
    "npm-without-test-script": (
        {
            "package.json": json.dumps(
                {"scripts": {"test": 'echo "Error: no test specified" && exit 1'}}
            ),
            "package-lock.json": "{}",
        },
        [["npm", "ci"]],
        None,
        "node (npm, package-lock.json)",
    ),
    "go": (
        {"go.mod": "module example.com/app\n\ngo 1.22\n"},
        [["go", "mod", "download"]],
        ["go", "test", "./..."],
        "go",
    ),
    "rust": (
        {"Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\n', "Cargo.lock": ""},
        [["cargo", "fetch", "--locked"]],
        ["env", f"CARGO_TARGET_DIR={CARGO_TARGET}", "cargo", "test", "--locked"],
        "rust",
    ),
    "make": (
        {"Makefile": "build:\n\tcc -o app app.c\n\ntest: build\n\t./app --self-test\n"},
        [],
        ["make", "test"],
        "make",
    ),
}


def _repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def _planning(path: Path) -> Path:
    write_featspec(path, "FS-1", "A feature")
    return path


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_init_detects_the_project_and_writes_a_setup_that_loads(tmp_path: Path, name: str) -> None:
    files, setup, test, kind = LAYOUTS[name]
    repo = _repo(tmp_path / "repo", files)
    found = detect_project(repo, {})
    assert found is not None
    assert (found.kind, found.setup, found.test_command) == (kind, setup, test)

    planning = _planning(tmp_path / "planning")
    done = init_project(repo, planning, {}, agent="scripted")
    assert any(line.startswith(f"project: {kind} (") for line in done), done
    text = (repo / "hatchdoit.yaml").read_text(encoding="utf-8")
    assert f"# detected: {kind}" in text
    config = load_config(repo)  # validates
    assert config.workspace.setup == setup
    assert config.workspace.remove_delivered is True
    assert config.planning.defaults.test_command == test
    if setup:
        assert "hard-link" in text or "copies" in text or "read-only" in text or "copied" in text


@pytest.mark.parametrize(
    ("files", "what"),
    [
        ({"pyproject.toml": PYPROJECT}, ["-e", ".[test]"]),
        ({"requirements.txt": "attrs\n"}, ["-r", "requirements.txt"]),
    ],
)
def test_with_uv_on_path_a_python_project_gets_uv_venv_and_uv_pip(
    tmp_path: Path, files: dict[str, str], what: list[str]
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "uv").write_text("#!/bin/sh\nexit 0\n")
    (tools / "uv").chmod(0o755)
    repo = _repo(tmp_path / "repo", files)
    environ = {"PATH": f"{tools}:/usr/bin:/bin"}
    setup = [["uv", "venv", "-q", "--allow-existing", ".venv"], [*UV_PIP_INSTALL, *what]]
    found = detect_project(repo, environ)
    assert found is not None
    assert (found.kind, found.setup) == ("python (uv venv + uv pip)", setup)
    assert "--link-mode" in setup[1] and setup[1][setup[1].index("--link-mode") + 1] == "copy"
    init_project(repo, _planning(tmp_path / "planning"), environ, agent="scripted")
    text = (repo / "hatchdoit.yaml").read_text(encoding="utf-8")
    assert "# detected: python (uv venv + uv pip)" in text and "uv pip install" in text
    assert load_config(repo).workspace.setup == setup


def test_a_taskspec_without_test_command_takes_the_detected_one(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", {"go.mod": "module example.com/app\n"})
    planning = _planning(tmp_path / "planning")
    spec = planning / "_specs" / "taskspecs" / "T-1.md"
    spec.parent.mkdir(parents=True)
    spec.write_text("---\nid: T-1\ntitle: One\nkind: taskspec\nfeatspec: FS-1\n---\nWork.\n")
    init_project(repo, planning, {}, agent="scripted")
    config = load_config(repo)
    plan = load_plan(planning, planning=config.planning)
    assert not plan.errors, plan.errors
    taskspec = plan.taskspec("T-1")
    assert taskspec.test_command == ["go", "test", "./..."]
    assert taskspec.loc_cap == 400  # the default loc_cap, as for a foreign plan


@pytest.mark.parametrize("files", [{}, {"Makefile": "all:\n\techo hi\n"}, {"README.md": "x"}])
def test_nothing_detected_writes_an_empty_setup_and_says_so(
    tmp_path: Path, files: dict[str, str]
) -> None:
    repo = _repo(tmp_path / "repo", files)
    assert detect_project(repo, {}) is None
    done = init_project(repo, _planning(tmp_path / "planning"), {}, agent="scripted")
    assert "project: nothing detected; write workspace.setup in hatchdoit.yaml" in done
    config = load_config(repo)
    assert config.workspace.setup == []
    assert config.planning.defaults.test_command is None


@pytest.mark.parametrize(
    ("argv", "tool"),
    [
        (["uv", "sync"], "uv"),
        (["env", "A=1", "-u", "B", "cargo", "test"], "cargo"),
        (["/usr/bin/env", "X=y"], None),
        ([".venv/bin/python", "-m", "pip"], ".venv/bin/python"),
    ],
)
def test_tool_of_a_setup_command_looks_past_env(argv: list[str], tool: str | None) -> None:
    assert tool_of(argv) == tool
