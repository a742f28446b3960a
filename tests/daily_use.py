"""Shared by the daily-use tests (status, logs, metrics, report, ci, watch): running the
`hatchdoit` command line, and one mixed build made once per test session.

The mixed build (FeatSpecs FS-001-TEST and FS-002-OTHER):
    A  succeeds on attempt 1
    B  QA rejects attempt 1, approves attempt 2
    C  its tests fail on every attempt (max_attempts 2): escalated
    D  depends on C: never built (blocked)
built with `doit --continue` twice (the second run re-fails C only), with a notify command that
records every notification it gets.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import run_doit
from projects import HatchProject, make_project, write_featspec

NOTIFY_SCRIPT = """\
import json, pathlib, sys
data = json.load(sys.stdin)
out = pathlib.Path(sys.argv[1])
out.mkdir(exist_ok=True)
n = len(list(out.glob("*.json")))
(out / f"{n:03d}-{data['event']}.json").write_text(json.dumps(data))
"""


def hatchdoit(
    project: HatchProject,
    *args: str,
    timeout: float = 60,
    columns: int = 200,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `hatchdoit --root <root> ARGS` as a real process with the project's environment."""
    return subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(project.root), *args],
        cwd=project.root,
        env={**project.env, "COLUMNS": str(columns), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add_notify(project: HatchProject) -> Path:
    """Configure a notify command that saves each payload as a file; return that directory."""
    script = project.root.parent / "notify.py"
    script.write_text(NOTIFY_SCRIPT, encoding="utf-8")
    out = project.root.parent / "notifications"
    project.configure(notify={"command": [sys.executable, str(script), str(out)]})
    return out


def notifications(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))] if out.is_dir() else []


@dataclass
class MixedBuild:
    project: HatchProject
    outputs: list[subprocess.CompletedProcess[str]]
    notify_dir: Path

    @property
    def root(self) -> Path:
        return self.project.root


_BUILT: dict[str, MixedBuild] = {}


def make_mixed(tmp: Path) -> MixedBuild:
    project = make_project(tmp)
    write_featspec(project.planning, "FS-002-OTHER", "Other feature")
    project.add_taskspec("A", title="Alpha")
    project.add_taskspec("B", title="Beta", scripted={"qa": "reject-once"})
    project.add_taskspec("C", title="Gamma", scripted={"factory": ["fail-tests"]}, max_attempts=2)
    project.featspec = "FS-002-OTHER"
    project.add_taskspec("D", title="Delta", depends_on=["C"])
    project.featspec = "FS-001-TEST"
    notify_dir = add_notify(project)
    outputs = [run_doit(project, "--continue"), run_doit(project, "--continue")]
    return MixedBuild(project, outputs, notify_dir)


@pytest.fixture(scope="session")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedBuild]:
    """The mixed build, made once per session (tests must not change it)."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    if "mixed" not in _BUILT:
        _BUILT["mixed"] = make_mixed(tmp_path_factory.mktemp("mixed"))
    built = _BUILT["mixed"]
    yield built
    built.project.tmux("kill-server")
    shutil.rmtree(built.project.env["TMUX_TMPDIR"], ignore_errors=True)
