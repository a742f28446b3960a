"""Kill the build anywhere, then resume: the fault-injection sweep.

Every named fault point (hatchdoit/faults.py) is hit by a real `doit` that SIGKILLs itself there
(`HATCHDOIT_FAULT=<point>@<TaskSpec>#<n>`); a rerun without the fault must bring every TaskSpec to
the end state of an unkilled reference build without repeating a finished step or launching a
second agent for an attempt whose session was still alive.

The scenario and one kill run are in fault_sweep.py. The full sweep (two kills at every fault
point, and kills from outside at seeded instants) is slow:
    python -m pytest -m slow tests/test_faults_kill_sweep.py
FAULT_SEED=<int> picks other kill instants; FAULT_SWEEP_REPORT=<file> writes the sweep's counts
and timings as JSON (docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import read_audit, retry_until, run_doit, tree_hashes
from fault_sweep import (
    BUILD,
    KillResult,
    Reference,
    end_states,
    fresh_project,
    kill_and_resume,
    occurrences,
    plan_kills,
    resume_and_check,
)
from projects import doit_executable
from resume_checks import audit_lines

from hatchdoit.core.testing_faults import FAULT_POINTS

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("FAULT_SEED", "20250818"))
FAST_POINTS = (
    "worktree.before_receipt",
    "launch.after_tmux",
    "wait.started",
    "summary.before_request",
    "qa.before_receipt",
    "integrate.before_update_ref",
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    base = tmp_path_factory.mktemp("reference")
    with fresh_project(base, "ref") as project:
        started = time.monotonic()
        done = run_doit(project, *BUILD, timeout=300)
        seconds = time.monotonic() - started
        events = read_audit(project)
        return Reference(
            returncode=done.returncode,
            states=end_states(project),
            seconds=seconds,
            occurrences=occurrences(events),
            launches=sum(1 for e in events if e["event"] == "launch"),
            audit_events=len(events),
        )


def test_reference_build_reaches_the_expected_end_states(reference: Reference) -> None:
    assert reference.states == {
        "KA": ("done", 1),
        "KB": ("done", 1),
        "KC": ("done", 2),
        "KD": ("done", 1),
        "KE": ("escalated", 1),
    }
    assert reference.returncode != 0  # KE escalates
    missing = [p for p in FAULT_POINTS if not reference.occurrences[p]]
    assert not missing, f"the scenario never passes {missing}"


def write_report(results: list[KillResult], reference: Reference, seed: int) -> None:
    target = os.environ.get("FAULT_SWEEP_REPORT")
    if not target:
        return
    report = {
        "seed": seed,
        "reference_seconds": round(reference.seconds, 2),
        "reference_launches": reference.launches,
        "reference_audit_events": reference.audit_events,
        "occurrences": reference.occurrences,
        "runs": [r.__dict__ for r in results],
    }
    Path(target).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The sweeps


def test_fault_points_are_all_known() -> None:
    assert len(FAULT_POINTS) == len(set(FAULT_POINTS)) >= 16
    assert set(FAST_POINTS) <= set(FAULT_POINTS)


@pytest.mark.slow  # 36 s; the default run kills builds in test_faults_workers and elsewhere
def test_kill_at_a_few_points_then_resume(
    reference: Reference, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default run's subset: one seeded kill at each of FAST_POINTS."""
    plans = plan_kills(reference, FAST_POINTS, 1, SEED)
    results = [kill_and_resume(tmp_path, reference, plan) for plan in plans]
    with capsys.disabled():
        for r in results:
            print(f"\n  killed at {r.plan}: rerun {r.rerun_seconds}s, relaunched {r.relaunched}")


@pytest.mark.slow
def test_kill_at_every_fault_point_then_resume(reference: Reference, tmp_path: Path) -> None:
    """The full sweep: two seeded kills per fault point (a different TaskSpec or attempt each),
    plus kills from outside at seeded random instants of the build."""
    plans = plan_kills(reference, FAULT_POINTS, 2, SEED)
    assert len(plans) >= 20
    results = []
    failures = []
    for plan in plans:
        try:
            results.append(kill_and_resume(tmp_path, reference, plan))
        except AssertionError as exc:
            failures.append(f"{plan.spec}: {exc}")
    rng = random.Random(SEED)
    for n in range(4):
        after_events = rng.randrange(1, reference.audit_events * 3 // 4)
        extra = rng.uniform(0.0, 0.3)
        try:
            results.append(kill_from_outside(tmp_path, reference, n, after_events, extra))
        except AssertionError as exc:
            failures.append(f"outside kill {n} after event {after_events} + {extra:.2f}s: {exc}")
    write_report(results, reference, SEED)
    covered = {r.plan.split("@")[0].split("#")[0] for r in results}
    assert not failures, "\n\n".join(failures)
    assert set(FAULT_POINTS) <= covered


def kill_from_outside(
    base: Path, reference: Reference, n: int, after_events: int, extra: float
) -> KillResult:
    """SIGKILL the doit process from outside, `extra` seconds after its `after_events`-th audit
    event: an instant chosen by build progress, not a named point (so the test does not depend on
    the machine's speed)."""
    with fresh_project(base, f"outside-{n}") as project:
        planning_before = tree_hashes(project.planning)
        proc = subprocess.Popen(
            [doit_executable(), *BUILD],
            cwd=project.root,
            env=project.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            retry_until(
                lambda: proc.poll() is not None or audit_lines(project) >= after_events,
                timeout=300,
                interval=0.005,
            )
            time.sleep(extra)  # the random instant within the build's progress
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = proc.wait(timeout=30)
        killed_at = audit_lines(project)
        assert code == -signal.SIGKILL, f"the build ended before the kill (rc {code})"
        label = f"outside#{n}@event{killed_at}"
        return KillResult(
            plan=label, **resume_and_check(project, reference, label, planning_before)
        )
