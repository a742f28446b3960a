"""The demo planning repo (demo/planning) and the scripted agent: the plan's shape, and its
TaskSpecs built by the scripted agent in dependency order on the demo target, each within its
LOC cap with the target's tests passing.
"""

from __future__ import annotations

import graphlib
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from scripted_agent_pty import DEMO, TIMEOUT, Agent, git_env, git_out, make_repo, start_agent

pytestmark = pytest.mark.integration

__all__ = ["git_env", "start_agent"]  # fixtures


def load_demo_specs() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """FeatSpecs and TaskSpecs of the demo planning repo: front matter plus `body`."""
    found: dict[str, dict[str, dict[str, Any]]] = {"featspec": {}, "taskspec": {}}
    for path in sorted((DEMO / "planning" / "_specs").rglob("*.md")):
        _, front, body = path.read_text(encoding="utf-8").split("---\n", 2)
        data = yaml.safe_load(front)
        assert path.stem == data["id"], path
        found[data["kind"]][data["id"]] = {**data, "body": body}
    return found["featspec"], found["taskspec"]


def test_demo_plan_shape() -> None:
    featspecs, taskspecs = load_demo_specs()
    assert len(featspecs) == 2 and len(taskspecs) == 5
    for spec in taskspecs.values():
        assert spec["featspec"] in featspecs
        assert set(spec["depends_on"]) <= set(taskspecs)
        assert shlex.split(spec["test_command"]) == [
            "python3",
            "-m",
            "unittest",
            "discover",
            "-s",
            "tests",
            "-q",
        ]
    assert [s["id"] for s in taskspecs.values() if s.get("scripted", {}).get("qa") == "reject-once"]
    assert any(spec["depends_on"] for spec in taskspecs.values())
    planning = pytest.importorskip("hatchdoit.planning.plan")
    plan = planning.load_plan(DEMO / "planning")
    assert plan.errors == [] and set(plan.taskspecs) == set(taskspecs)


def test_demo_taskspecs_build_in_dependency_order(
    start_agent: Callable[..., Agent], tmp_path: Path, git_env: dict[str, str]
) -> None:
    _, taskspecs = load_demo_specs()
    repo = make_repo(tmp_path / "textkit", git_env, seed=DEMO / "target")
    argv = [
        sys.executable if a == "python3" else a
        for a in shlex.split(next(iter(taskspecs.values()))["test_command"])
    ]
    assert subprocess.run(argv, cwd=repo, capture_output=True).returncode == 0
    order = graphlib.TopologicalSorter({k: v["depends_on"] for k, v in taskspecs.items()})
    for taskspec_id in order.static_order():
        spec = taskspecs[taskspec_id]
        before = git_out(repo, git_env, "rev-parse", "HEAD")
        agent = start_agent(repo=repo, taskspec_id=taskspec_id, loc_cap=spec["loc_cap"])
        agent.ask(spec["body"] + "\n<!-- hatchdoit:request=implement -->\n")
        os.killpg(agent.proc.pid, signal.SIGTERM)
        agent.proc.wait(timeout=TIMEOUT)
        numstat = git_out(repo, git_env, "diff", "--numstat", before, "HEAD").splitlines()
        added = sum(int(line.split()[0]) for line in numstat)
        assert 0 < added < spec["loc_cap"], (taskspec_id, added)
        tests = subprocess.run(argv, cwd=repo, capture_output=True, text=True)
        assert tests.returncode == 0, (taskspec_id, tests.stderr)
        for dep in spec["depends_on"]:  # dependent code really imports its dependency
            module = taskspecs[dep]["body"].split("```file:src/textkit/")[1].split(".py")[0]
            assert f"from textkit.{module} import" in spec["body"], (taskspec_id, dep)
    assert "Ran 23 tests" in tests.stderr
    assert git_out(repo, git_env, "status", "--porcelain") == ""
