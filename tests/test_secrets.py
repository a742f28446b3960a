"""Secrets from the environment never appear in any file under `_logs/`: a build in which the
TaskSpec's tests and a failing git hook print them has them redacted in the pane log, the screen
capture and the checks log, and no file under `_logs/` holds one. (An agent and a test command
get a credential only when asked for: here a profile of the project's own passes them to the
agent, and `checks.env_passthrough` to the tests; test_session_env.py has the defaults.)
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run_doit
from projects import HatchProject, make_project, module_body

from hatchdoit.core.bundled import AGENTS as BUNDLED_AGENTS

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# Secrets from the environment


LEAK_TEST = """```file:tests/test_leak.py
import os
import sys
import unittest


class LeakTest(unittest.TestCase):
    def test_prints_the_environment(self) -> None:
        print("key in test output:", os.environ.get("ANTHROPIC_API_KEY"))
        print("token in test output:", os.environ.get("GITHUB_TOKEN"), file=sys.stderr)
```
"""


@dataclass
class Leaky:
    project: HatchProject
    values: dict[str, str]


@pytest.fixture(scope="module")
def leaky_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Leaky]:
    """A build in which the secrets are printed by the TaskSpec's tests (checks log) and by a
    git hook that fails the agent's commit (its message lands in the agent's pane). The TaskSpec
    text itself holds no secret."""
    tmp_path = tmp_path_factory.mktemp("secrets")
    project = make_project(tmp_path)
    found = {
        "ANTHROPIC_API_KEY": f"sk-test-{secrets.token_hex(16)}",
        "GITHUB_TOKEN": f"ghp_{secrets.token_hex(12)}",
    }
    project.env.update(found)
    bundled = (BUNDLED_AGENTS / "scripted.yaml").read_text(encoding="utf-8")
    (project.root / "agents").mkdir()
    (project.root / "agents" / "leaky.yaml").write_text(
        bundled.replace("name: scripted", "name: leaky").replace(
            "{agents_dir}/scripted", f"{BUNDLED_AGENTS}/scripted"
        )
        + 'env_passthrough: ["ANTHROPIC_API_KEY", "GITHUB_TOKEN"]\n',
        encoding="utf-8",
    )
    project.configure(
        agents={"factory": "leaky", "qa": "scripted"},
        checks={"env_passthrough": list(found)},
    )
    hooks = tmp_path / "githooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text(
        "#!/bin/sh\n"
        'case "$PWD" in */_worktrees/*) ;; *) exit 0 ;; esac\n'
        'echo "pre-commit refused: key $ANTHROPIC_API_KEY token $GITHUB_TOKEN" >&2\nexit 1\n',
        encoding="utf-8",
    )
    (hooks / "pre-commit").chmod(0o755)
    Path(project.env["GIT_CONFIG_GLOBAL"]).write_text(
        f"[core]\n\thooksPath = {hooks}\n", encoding="utf-8"
    )
    body = module_body("leak", "leak", "x") + "\n" + LEAK_TEST
    project.add_taskspec("SECRET-1", body=body, max_attempts=1)
    try:
        done = run_doit(project, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        for value in found.values():
            assert value not in done.stdout + done.stderr
        yield Leaky(project, found)
    finally:
        project.tmux("kill-server")


def files_holding(root: Path, values: list[str]) -> list[str]:
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path.relative_to(root)}" for v in values if v.encode() in data]
    return hits


def test_secrets_reach_the_pane_and_the_tests(leaky_build: Leaky) -> None:
    """The test setup works: both routes carried the values (seen redacted in the files)."""
    layout = leaky_build.project.layout
    pane = layout.pane_log("SECRET-1", "factory", 1).read_text(errors="replace")
    assert "pre-commit refused: key *** token ***" in pane.replace("\r", ""), pane[-2000:]
    screen = layout.screen_capture("SECRET-1", "factory", 1).read_text(errors="replace")
    assert "pre-commit refused: key ***" in screen
    checks = layout.checks_log("SECRET-1", 1).read_text(errors="replace")
    assert "key in test output: ***" in checks and "token in test output: ***" in checks, checks


def test_secrets_are_not_in_pane_logs_screens_or_json_logs(leaky_build: Leaky) -> None:
    logs = leaky_build.project.logs
    values = list(leaky_build.values.values())
    checked = [
        *logs.rglob("pane-*.log"),
        *logs.rglob("screen-*.txt"),
        *logs.rglob("*.jsonl"),
        *logs.rglob("*.json"),
        *logs.rglob("*.stop"),
        *logs.rglob("prompt-*.md"),
    ]
    assert checked
    leaked = [str(p) for p in checked for v in values if v.encode() in p.read_bytes()]
    assert not leaked, leaked


def test_no_file_under_logs_holds_a_secret(leaky_build: Leaky) -> None:
    leaked = files_holding(leaky_build.project.logs, list(leaky_build.values.values()))
    assert not leaked, leaked
