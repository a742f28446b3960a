"""The merge queue within a doit build (steps/merge_batch.py): a targeted build lands only what
it asked for and its dependencies, and an integrate step that comes to the queue while a batch
tests hands its landing over instead of holding its doit worker. Real git, doit, tmux and the
scripted agent."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import git, read_json, run_doit
from projects import HatchProject, doit_executable

from hatchdoit.project import load_project
from hatchdoit.run.context import StepContext
from hatchdoit.run.landing_scope import set_landing_scope
from hatchdoit.steps.queue_handover import may_hand_over

pytestmark = pytest.mark.integration


def landed(project: HatchProject, tid: str) -> list[str]:
    return git(project.target, "log", "--first-parent", "--format=%H", "main",
               f"--grep=Hatchdoit-TaskSpec: {tid}").split()  # fmt: skip


def test_a_targeted_build_lands_only_what_it_asked_for_and_its_dependencies(
    project: HatchProject,
) -> None:
    """A and C are approved and ready to land; `doit taskspec:D` lands D's dependency C and
    not A; `doit integrate:A` lands A and not D (approved, ready, not asked for)."""
    project.configure(integrate="merge")
    for tid in "AC":
        project.add_taskspec(tid)
    project.add_taskspec("D", depends_on=["C"])
    built = run_doit(project, "taskspec:A", "taskspec:C")
    assert built.returncode == 0, built.stdout + built.stderr
    assert landed(project, "A") == [] and landed(project, "C") == []
    dependent = run_doit(project, "taskspec:D")  # runs integrate:C first (D starts from main)
    assert dependent.returncode == 0, dependent.stdout + dependent.stderr
    assert len(landed(project, "C")) == 1
    assert landed(project, "A") == [], "A is not part of `doit taskspec:D`"
    assert not project.layout.integration("A").exists()
    one = run_doit(project, "integrate:A")
    assert one.returncode == 0, one.stdout + one.stderr
    assert len(landed(project, "A")) == 1
    assert landed(project, "D") == [], "D is approved and ready, but not asked for"
    everything = run_doit(project)
    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert [len(landed(project, t)) for t in "ACD"] == [1, 1, 1]


def held_test(project: HatchProject) -> list[str]:
    """An integration test argv that says it started (file `testing`), then waits for the file
    `release` (at most 120 s): a batch whose tests run as long as the test wants."""
    base = project.root.parent
    script = (
        "import pathlib, time\n"
        f"testing, release = pathlib.Path({str(base / 'testing')!r}), "
        f"pathlib.Path({str(base / 'release')!r})\n"
        "testing.touch()\n"
        "deadline = time.monotonic() + 120\n"
        "while not release.exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
    )
    return [sys.executable, "-c", script]


def step_started(project: HatchProject, step: str, tid: str) -> bool:
    try:
        lines = project.layout.audit.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    for line in lines:
        event = json.loads(line)
        if (event.get("event"), event.get("step"), event.get("taskspec_id")) == (
            "step_start", step, tid,
        ):  # fmt: skip
            return True
    return False


def wait_for(condition: object, seconds: float, doit: subprocess.Popen[str]) -> bool:
    """The test's own wait: poll `condition` until it holds or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        if doit.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def test_an_integrate_step_waiting_for_the_queue_holds_no_doit_worker(
    project: HatchProject,
) -> None:
    """`doit -n 2`: L and W approved, F not built yet. One of L's and W's integrate steps lands
    both in one batch whose test waits for the test to release it; the other comes to the queue
    meanwhile. F's factory must start while that batch is still testing (before the fix the
    second worker blocked on the queue until the batch ended, and F waited for it)."""
    project.configure(integrate="merge", integration={"test_command": held_test(project)})
    for tid in "LWF":
        project.add_taskspec(tid)
    built = run_doit(project, "taskspec:L", "taskspec:W")
    assert built.returncode == 0, built.stdout + built.stderr
    out = project.root.parent / "doit.out"
    with open(out, "w") as sink:
        doit = subprocess.Popen(
            [doit_executable(), "-n", "2"], cwd=project.root, env=project.env,
            stdout=sink, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        assert wait_for((project.root.parent / "testing").exists, 60, doit), out.read_text()
        during = wait_for(lambda: step_started(project, "factory", "F"), 30, doit)
    finally:
        (project.root.parent / "release").touch()
    assert doit.wait(timeout=180) == 0, out.read_text()
    assert during, "F's factory did not start while the batch was testing: a worker was held"
    for tid in "LWF":
        assert len(landed(project, tid)) == 1, tid
        record = read_json(project.layout.integration(tid))
        assert record["landed_commit"] == landed(project, tid)[0]
    first = {read_json(project.layout.integration(t))["previous_tip"] for t in "LW"}
    assert len(first) == 1, "L and W landed in one batch"
    assert "no worker held" in out.read_text()


def test_a_step_hands_over_only_when_nothing_of_the_build_waits_for_its_landing(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge")
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    project.add_taskspec("C", depends_on=["B"])
    ctx = StepContext(load_project(project.root), "A")
    try:
        set_landing_scope(None)
        assert not may_hand_over(ctx), "outside a doit build: never"
        set_landing_scope(frozenset("AC"))
        assert not may_hand_over(ctx), "C (in the build) depends on A through B"
        set_landing_scope(frozenset("AB"))
        assert not may_hand_over(ctx)
        set_landing_scope(frozenset("A"))
        assert may_hand_over(ctx)
    finally:
        set_landing_scope(None)


def test_a_handed_over_member_the_batch_refuses_is_settled_in_the_same_run(
    project: HatchProject,
) -> None:
    """L and W are both culprits (`integration.max_attempts: 0`): one leads the batch, the other
    hands its landing over while the batch tests. Both are escalated by the end of this one
    `doit` (the handed-over one by its lander, as its own step would have; before, its refusal
    waited for the next run and this one exited 0)."""
    base = project.root.parent
    script = (
        "import pathlib, sys, time\n"
        f"base = pathlib.Path({str(base)!r})\n"
        "(base / 'testing').touch()\n"
        "deadline = time.monotonic() + 120\n"
        "while not (base / 'release').exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "bad = any(pathlib.Path('.').rglob('m_l.py')) or any(pathlib.Path('.').rglob('m_w.py'))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    project.configure(
        integrate="merge",
        integration={"test_command": [sys.executable, "-c", script], "max_attempts": 0},
    )
    for tid in "LW":
        project.add_taskspec(tid)
    built = run_doit(project, "taskspec:L", "taskspec:W")
    assert built.returncode == 0, built.stdout + built.stderr
    out = base / "doit.out"
    with open(out, "w") as sink:
        doit = subprocess.Popen(
            [doit_executable(), "-n", "2"], cwd=project.root, env=project.env,
            stdout=sink, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        assert wait_for((base / "testing").exists, 60, doit), out.read_text()
        both = wait_for(lambda: all(step_started(project, "integrate", t) for t in "LW"), 30, doit)
        handed = wait_for(lambda: "no worker held" in out.read_text(), 30, doit)
    finally:
        (base / "release").touch()
    code = doit.wait(timeout=180)
    said = out.read_text()
    assert both and handed, said
    assert code != 0, said
    for tid in "LW":
        assert landed(project, tid) == [], tid
        record = read_json(project.layout.integration(tid))
        assert record["outcome"] == "escalated", (tid, said)
