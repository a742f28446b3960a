"""The merge queue lands approved TaskSpecs in batches (steps/merge_batch.py, delivery/bisect.py),
with real git repos, the scripted agent and real doit processes.

A batch is formed two ways here, both real: the test holds the queue's lock (as a long landing
would) while `doit -n 3` brings three integrate steps to it, or queued records are left as an
interrupted run leaves them and one integrate step lands them all. The project-wide integration
test command appends a line to a file per run, so the runs are counted."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import git, read_json, read_log, run_doit
from projects import HatchProject, doit_executable

from hatchdoit.project import load_project
from hatchdoit.run.context import StepContext
from hatchdoit.steps.merge_batch import dependency_order

pytestmark = pytest.mark.integration


def landed(project: HatchProject, tid: str) -> list[str]:
    return git(project.target, "log", "--first-parent", "--format=%H", "main",
               f"--grep=Hatchdoit-TaskSpec: {tid}").split()  # fmt: skip


def counting(
    project: HatchProject, fail_if: str = "", flaky: bool = False, also: str = ""
) -> list[str]:
    """An integration test argv: appends a line to `runs` each time; fails when a file named
    `fail_if` (and `also`, when given) is in the tree, or (flaky) the first time only."""
    runs = project.root.parent / "runs"
    script = (
        "import pathlib, sys\n"
        f"runs = pathlib.Path({str(runs)!r})\n"
        "first = not runs.exists()\n"
        "with runs.open('a') as out:\n"
        "    out.write('run\\n')\n"
        f"bad = {fail_if!r} and any(pathlib.Path('.').rglob({fail_if!r}))\n"
        f"bad = bad and (not {also!r} or any(pathlib.Path('.').rglob({also!r})))\n"
        f"sys.exit(1 if bad or ({flaky!r} and first) else 0)\n"
    )
    return [sys.executable, "-c", script]


def runs(project: HatchProject) -> int:
    path = project.root.parent / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


@contextmanager
def queue_held(project: HatchProject) -> Iterator[None]:
    common = git(project.target, "rev-parse", "--path-format=absolute", "--git-common-dir")
    with open(Path(common.strip()) / "hatchdoit-integrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
        fcntl.flock(lock, fcntl.LOCK_UN)


def queued(project: HatchProject, tid: str) -> Path:
    return project.layout.state_dir(tid) / "integrate.queued.json"


def batch_of(project: HatchProject, tids: list[str]) -> subprocess.CompletedProcess[str]:
    """Built TaskSpecs `tids`, then `doit -n N` while the queue is held until all are queued."""
    built = run_doit(project, *[f"taskspec:{t}" for t in tids])
    assert built.returncode == 0, built.stdout + built.stderr
    with queue_held(project):
        doit = subprocess.Popen(
            [doit_executable(), "-n", str(len(tids))], cwd=project.root, env=project.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not all(queued(project, t).exists() for t in tids):  # the test's own wait
            assert time.monotonic() < deadline and doit.poll() is None, "not all queued"
            time.sleep(0.05)
    out, err = doit.communicate(timeout=120)
    return subprocess.CompletedProcess(doit.args, doit.returncode, out, err)


def test_a_batch_of_independent_taskspecs_lands_with_one_test_run(project: HatchProject) -> None:
    project.configure(integrate="merge", integration={"test_command": counting(project)})
    for tid in "ABC":
        project.add_taskspec(tid)
    done = batch_of(project, list("ABC"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert runs(project) == 1
    tips = set()
    for tid in "ABC":
        record = read_json(project.layout.integration(tid))
        assert record["outcome"] == "integrated"
        assert [record["landed_commit"]] == landed(project, tid)
        tips.add(record["previous_tip"])
        assert not queued(project, tid).exists()
    assert len(tips) == 1, "one compare-and-swap from one tip"


def test_a_culprit_goes_back_and_the_others_land(project: HatchProject) -> None:
    counted = counting(project, fail_if="m_c.py")
    project.configure(integrate="merge", integration={"test_command": counted, "max_attempts": 0})
    for tid in "ABCD":
        project.add_taskspec(tid)
    done = batch_of(project, list("ABCD"))
    assert done.returncode != 0
    for tid in "ABD":
        assert read_json(project.layout.integration(tid))["outcome"] == "integrated", tid
        assert len(landed(project, tid)) == 1
    culprit = read_json(project.layout.integration("C"))
    assert culprit["outcome"] == "escalated" and "tests failed" in culprit["reasons"][0]
    assert landed(project, "C") == []
    # ABCD red, again red, AB green and lands, so CD is red on AB: C red (the culprit), D green
    assert runs(project) == 5
    said = [e["msg"] for e in read_log(project, "orchestrator")]
    assert any("trying it once more" in m for m in said) and any("bisecting" in m for m in said)


def test_a_failure_only_two_cause_together_is_found(project: HatchProject) -> None:
    """A and C each pass, together they fail: A lands with B, C goes back, D lands."""
    counted = counting(project, fail_if="m_a.py", also="m_c.py")
    project.configure(integrate="merge", integration={"test_command": counted, "max_attempts": 0})
    for tid in "ABCD":
        project.add_taskspec(tid)
    done = batch_of(project, list("ABCD"))
    assert done.returncode != 0
    assert [len(landed(project, t)) for t in "ABCD"] == [1, 1, 0, 1]
    assert read_json(project.layout.integration("C"))["outcome"] == "escalated"
    assert runs(project) == 5


def test_a_flaky_test_lands_the_batch_on_the_retry(project: HatchProject) -> None:
    project.configure(
        integrate="merge", integration={"test_command": counting(project, flaky=True)}
    )
    for tid in "AB":
        project.add_taskspec(tid)
    done = batch_of(project, list("AB"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert runs(project) == 2
    assert all(len(landed(project, t)) == 1 for t in "AB")


def leave_queued(project: HatchProject, tids: list[str]) -> None:
    """Queued records as integrate steps of an interrupted run leave them."""
    for tid in tids:
        approved = read_json(project.layout.done(tid))["commit"]
        queued(project, tid).write_text(f'{{"approved": "{approved}", "mode": "merge"}}')


def test_a_batch_is_in_dependency_order_and_waiters_take_the_landers_outcome(
    project: HatchProject,
) -> None:
    """Under doit a dependent is built only once its dependency landed, so both meet in a batch
    only when queued records outlive their run: the batch puts a dependency first (A depends on
    B and sorts first); one integrate step lands the queued ones, and their steps then find what
    it decided for them and write their receipts without testing again."""
    project.configure(integrate="merge", integration={"test_command": counting(project)})
    project.add_taskspec("A", depends_on=["B"])
    project.add_taskspec("B")
    project.add_taskspec("C")
    ctx = StepContext(load_project(project.root), "C")
    assert dependency_order(ctx, ["C", "A", "B"]) == ["C", "B", "A"]
    assert run_doit(project, "taskspec:B", "taskspec:C").returncode == 0
    leave_queued(project, ["B"])
    lander = run_doit(project, "integrate:C", "integrate:B")  # C's step first: the lander
    assert lander.returncode == 0, lander.stdout + lander.stderr
    assert runs(project) == 1 and len(landed(project, "B")) == 1
    assert read_json(project.layout.integration("B"))["outcome"] == "integrated"
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert runs(project) == 2, "B took the lander's outcome; only A's landing tested again"
    for tid in "ABC":
        record = read_json(project.layout.integration(tid))
        assert record["landed_commit"] == landed(project, tid)[0]


def test_someone_elses_commit_during_a_batch_survives(project: HatchProject) -> None:
    repo = project.target
    project.configure(
        integrate="merge", integration={"test_command": project.commit_on_target_once()}
    )
    for tid in "AB":
        project.add_taskspec(tid)
    assert run_doit(project, "taskspec:A", "taskspec:B").returncode == 0
    leave_queued(project, ["B"])
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    someone = git(repo, "log", "--format=%H", "--grep=someone else", "main").strip()
    assert someone
    for tid in "AB":
        assert len(landed(project, tid)) == 1
        assert git(repo, "merge-base", "--is-ancestor", someone, landed(project, tid)[0]) == ""


@pytest.mark.parametrize(
    "point", ["integrate.after_merge", "integrate.before_update_ref", "integrate.after_update_ref",
              "integrate.before_receipt"],
)  # fmt: skip
def test_kill_during_a_batch_then_rerun_lands_each_exactly_once(
    project: HatchProject, point: str
) -> None:
    project.configure(integrate="merge")
    for tid in "ABC":
        project.add_taskspec(tid)
    assert run_doit(project, "taskspec:A", "taskspec:B", "taskspec:C").returncode == 0
    leave_queued(project, ["A", "B"])
    killed = subprocess.run(  # C's step first: the lander (the queued A and B are in the build)
        [doit_executable(), "integrate:C", "integrate:A", "integrate:B"], cwd=project.root,
        env={**project.env, "HATCHDOIT_FAULT": f"{point}@C"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    for tid in "ABC":
        assert len(landed(project, tid)) == 1, f"{point}: {tid} landed {len(landed(project, tid))}"
        assert (
            read_json(project.layout.integration(tid))["landed_commit"] == landed(project, tid)[0]
        )
        assert not project.layout.integration_intent(tid).exists()
    # the seeded target's checkout follows main even when the kill came before it was told
    assert git(project.target, "status", "--porcelain") == ""
    assert not list(project.layout.logs.glob("state/*/integrate.batch.json"))
