"""When a workspace's setup runs, and when it does not count: a failing setup stops its TaskSpec
without an attempt (status `setup failed`, `hatchdoit ci` exit 7 with a JUnit error of type
setup) and the next build tries again; a setup killed with the build (kill -9) is redone once
by the rerun; a lockfile changed by a dependency's rebuilt work reruns the dependent's setup
and no other TaskSpec's. Real `doit` runs, the scripted agent, a probe as the setup command that
counts its runs in a file (one line per run: the worktree it ran in)."""

from __future__ import annotations

import json
import os
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from build_records import build_ok, done_record, escalated_record, launches
from conftest import background_doit, doit_output, events, retry_until, run_doit
from daily_use import hatchdoit
from projects import HatchProject, module_body
from workspace_projects import BASE_PYTHON, fenced

pytestmark = pytest.mark.integration

PROBE = """import os, sys, time
from pathlib import Path
count, block = Path(sys.argv[1]), Path(sys.argv[2])
with count.open("a") as out:
    out.write(os.path.basename(os.getcwd()) + "\\n")
while block.exists():  # held here until the test lets go
    time.sleep(0.05)
"""


def probe_setup(tmp_path: Path) -> tuple[list[list[str]], Path, Path]:
    """The setup: a probe counting its runs in `count`, held while `block` exists."""
    script, count, block = tmp_path / "probe.py", tmp_path / "count", tmp_path / "block"
    script.write_text(PROBE, encoding="utf-8")
    return [[BASE_PYTHON, str(script), str(count), str(block)]], count, block


def runs_in(count: Path) -> dict[str, int]:
    lines = count.read_text(encoding="utf-8").split() if count.exists() else []
    return {name: lines.count(name) for name in set(lines)}


def test_a_failing_setup_stops_the_taskspec_without_an_attempt(project: HatchProject) -> None:
    failing = [BASE_PYTHON, "-c", "import sys; print('registry unreachable'); sys.exit(3)"]
    project.configure(workspace={"setup": [failing]})
    project.add_taskspec("T-SET")

    failed = run_doit(project)
    assert failed.returncode != 0
    said = failed.stdout + failed.stderr
    assert "setup failed:" in said and "exited 3" in said and "_logs/setup/T-SET-000.log" in said
    log = project.logs / "setup" / "T-SET-000.log"
    assert "registry unreachable" in log.read_text(encoding="utf-8")
    assert launches(project, taskspec_id="T-SET") == []  # no attempt

    status = hatchdoit(project, "status", "--json")
    row = json.loads(status.stdout)["taskspecs"][0]
    assert row["state"] == "setup failed" and row["attempt"] == 0
    assert "setup failed" in hatchdoit(project, "status").stdout

    junit = project.root / "junit.xml"
    ci = hatchdoit(project, "ci", "--junit", str(junit), timeout=120)
    assert ci.returncode == 7, ci.stdout + ci.stderr
    assert "T-SET: setup failed: " in ci.stdout
    error = ET.parse(junit).getroot().find(".//testcase/error")
    assert error is not None and error.get("type") == "setup"
    assert "exited 3" in str(error.get("message"))
    assert launches(project, taskspec_id="T-SET") == []

    project.configure(workspace={"setup": [[BASE_PYTHON, "-c", "pass"]]})  # fixed
    build_ok(project)  # the next doit tries again
    assert done_record(project, "T-SET").attempt == 1
    again = hatchdoit(project, "status", "--json")
    assert json.loads(again.stdout)["taskspecs"][0]["state"] == "done"


def test_a_setup_killed_with_the_build_is_redone_once(
    project: HatchProject, tmp_path: Path
) -> None:
    setup, count, block = probe_setup(tmp_path)
    project.configure(workspace={"setup": setup})
    project.add_taskspec("T-KILL")
    block.touch()
    with background_doit(project) as proc:
        retry_until(lambda: runs_in(count).get("T-KILL") == 1, timeout=60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert "started" in doit_output(project, proc)
    assert not project.layout.receipt("T-KILL", "setup", 0).exists()  # killed: not set up
    block.unlink()  # the orphaned probe ends; it was not the build's to finish
    build_ok(project)
    assert runs_in(count) == {"T-KILL": 2}
    assert done_record(project, "T-KILL").attempt == 1
    build_ok(project)
    assert runs_in(count) == {"T-KILL": 2}


def test_a_lockfile_changed_by_a_dependency_reruns_only_the_dependents_setup(
    project: HatchProject, tmp_path: Path
) -> None:
    setup, count, _ = probe_setup(tmp_path)
    project.configure(workspace={"setup": setup})
    path_a = project.add_taskspec(
        "A", body=module_body("alpha", "alpha", "a") + fenced({"requirements.txt": "alpha==1"})
    )
    project.add_taskspec("B", body=module_body("beta", "beta", "b"), depends_on=["A"])
    project.add_taskspec("C", body=module_body("gamma", "gamma", "c"))
    build_ok(project)
    # A's own commit added requirements.txt: A is set up again on it; B's worktree holds it
    # from the start; C never had it
    assert runs_in(count) == {"A": 2, "B": 1, "C": 1}

    path_a.write_text(
        path_a.read_text(encoding="utf-8").replace("alpha==1", "alpha==2"), encoding="utf-8"
    )
    build_ok(project)
    assert runs_in(count) == {"A": 3, "B": 2, "C": 1}
    b_worktree = project.layout.worktree("B")
    assert (b_worktree / "requirements.txt").read_text(encoding="utf-8").strip() == "alpha==2"
    build_ok(project)
    assert runs_in(count) == {"A": 3, "B": 2, "C": 1}


def test_the_integration_worktree_is_set_up_before_the_post_merge_tests(
    project: HatchProject, tmp_path: Path
) -> None:
    setup, count, _ = probe_setup(tmp_path)
    # the post-merge tests fail unless the setup ran in the integration worktree first
    check = f"import sys; sys.exit(0 if '.integration' in open('{count}').read().split() else 9)"
    probe_test = f'{BASE_PYTHON} -c "{check}"'
    project.configure(workspace={"setup": setup}, integrate="merge")
    project.add_taskspec("A", body=module_body("alpha", "alpha", "a"))
    project.add_taskspec("B", body=module_body("beta", "beta", "b"), depends_on=["A"])
    project.configure(integration={"test_command": probe_test})
    build_ok(project)
    runs = runs_in(count)
    assert runs[".integration"] == 1, runs  # once: the second merge changed no setup input
    assert runs["A"] == 1 and runs["B"] == 1


def test_a_setup_broken_by_the_attempts_own_commit_is_a_failed_check_of_it(
    project: HatchProject,
) -> None:
    breaks = "import sys; sys.exit(3 if 'broken' in open('requirements.txt').read() else 0)"
    project.configure(workspace={"setup": [[BASE_PYTHON, "-c", breaks]]})
    (project.seed / "requirements.txt").write_text("fine\n", encoding="utf-8")
    body = module_body("alpha", "alpha", "a") + fenced({"requirements.txt": "broken"})
    project.add_taskspec("T-BREAK", body=body, max_attempts=1)

    done = run_doit(project)
    assert done.returncode != 0
    escalated = escalated_record(project, "T-BREAK")
    assert any("setup failed" in reason and "exited 3" in reason for reason in escalated.reasons)
    assert [e["attempt"] for e in events(project, "setup_start")] == [0, 1]

    run_doit(project)  # the worktree holds the attempt's work: no blame on the setup step
    assert [e["attempt"] for e in events(project, "setup_start")] == [0, 1]
    row = json.loads(hatchdoit(project, "status", "--json").stdout)["taskspecs"][0]
    assert row["state"] == "escalated"
