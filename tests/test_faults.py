"""Kill the build anywhere, then resume: the fault-injection sweep, SIGTERM and SIGINT.

Every named fault point (hatchdoit/faults.py) is hit by a real `doit` that SIGKILLs itself there
(`HATCHDOIT_FAULT=<point>@<TaskSpec>#<n>`); a rerun without the fault must bring every TaskSpec to
the end state of an unkilled reference build without repeating a finished step or launching a
second agent for an attempt whose session was still alive.

The full sweep is slow:  python -m pytest -m slow tests/test_faults.py
FAULT_SEED=<int> picks other kill instants; FAULT_SWEEP_REPORT=<file> writes the sweep's counts
and timings as JSON (docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    HatchProject,
    assert_logs_parse,
    doit_executable,
    make_project,
    module_body,
    read_audit,
    retry_until,
    run_doit,
    tree_hashes,
)

from hatchdoit.faults import FAULT_POINTS
from hatchdoit.records import (
    ChecksRecord,
    DoneRecord,
    EscalatedRecord,
    LaunchRecord,
    Receipt,
    StopRecord,
    SummaryRecord,
    VerdictRecord,
    WorktreeRecord,
)
from hatchdoit.schemas import load_valid, try_load

pytestmark = pytest.mark.integration

BUILD = ("--continue",)  # an escalation must not stop the other TaskSpecs' builds
SEED = int(os.environ.get("FAULT_SEED", "20250818"))
FAST_POINTS = (
    "worktree.before_receipt",
    "launch.after_tmux",
    "wait.started",
    "summary.before_request",
    "qa.before_receipt",
)
# The scenario: a plain TaskSpec, one that depends on it, one QA rejects once (done at attempt 2),
# one whose agent skips its summary (asked again by injection) and one that escalates.
SCENARIO: dict[str, dict[str, Any]] = {
    "KA": {"body": ("ka", "ka", "a")},
    "KB": {"body": ("kb", "kb", "b"), "depends_on": ["KA"]},
    "KC": {"body": ("kc", "kc", "c"), "scripted": {"qa": "reject-once"}, "max_attempts": 3},
    "KD": {"body": ("kd", "kd", "d"), "scripted": {"factory": "skip-summary"}},
    "KE": {"body": ("ke", "ke", "e"), "scripted": {"factory": "fail-tests"}, "max_attempts": 1},
}
ARTIFACT_MODELS = {
    ".receipt.json": Receipt,
    ".launch.json": LaunchRecord,
    ".stop": StopRecord,
}


# --------------------------------------------------------------------------------------------
# Helpers


@contextmanager
def fresh_project(base: Path, name: str) -> Iterator[HatchProject]:
    """A scenario project under base/name whose tmux server is killed at the end."""
    where = base / name
    where.mkdir(parents=True)
    project = make_project(where)
    project.configure(
        limits={
            "factory": {"idle_timeout": 20, "wall_timeout": 60},
            "qa": {"idle_timeout": 20, "wall_timeout": 60},
        }
    )
    for tid, spec in SCENARIO.items():
        kwargs = {k: v for k, v in spec.items() if k != "body"}
        project.add_taskspec(tid, body=module_body(*spec["body"]), **kwargs)
    try:
        yield project
    finally:
        project.tmux("kill-server")
        shutil.rmtree(project.env["TMUX_TMPDIR"], ignore_errors=True)


def end_states(project: HatchProject) -> dict[str, tuple[str, int]]:
    """Per TaskSpec: ('done', approved attempt) or ('escalated', attempts) or ('open', 0)."""
    states: dict[str, tuple[str, int]] = {}
    for tid in SCENARIO:
        done = try_load(project.layout.done(tid), DoneRecord)
        escalated = try_load(project.layout.escalated(tid), EscalatedRecord)
        if done is not None:
            states[tid] = ("done", done.attempt)
        elif escalated is not None:
            states[tid] = ("escalated", escalated.attempts)
        else:
            states[tid] = ("open", 0)
    return states


def finished_steps(project: HatchProject) -> set[tuple[str, str, int]]:
    """(tid, step, attempt) of every valid receipt on disk, plus (tid, 'taskspec', 0) for done."""
    found: set[tuple[str, str, int]] = set()
    for path in (project.logs / "state").glob("*/*.receipt.json"):
        receipt = try_load(path, Receipt)
        if receipt is not None:
            found.add((receipt.taskspec_id, receipt.step, receipt.attempt))
    for path in (project.logs / "state").glob("*/done.json"):
        found.add((path.parent.name, "taskspec", 0))
    return found


def alive_attempts(project: HatchProject) -> set[tuple[str, str, int]]:
    """(tid, role, attempt) of every recorded agent run whose tmux session is alive."""
    alive = set()
    for path in (project.logs / "state").glob("*/*.launch.json"):
        launch = try_load(path, LaunchRecord)
        if launch is not None and project.session_alive(launch.session):
            alive.add((launch.taskspec_id, launch.role, launch.attempt))
    return alive


def audit_lines(project: HatchProject) -> int:
    path = project.layout.audit
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def audit_after(project: HatchProject, start: int) -> list[dict[str, Any]]:
    return read_audit(project)[start:]


def assert_artifacts_valid(project: HatchProject) -> None:
    """Every JSON and JSON-lines file parses; every artifact validates against its model."""
    assert_logs_parse(project)
    layout = project.layout
    problems = []
    for path in sorted(project.logs.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        model = next((m for s, m in ARTIFACT_MODELS.items() if path.name.endswith(s)), None)
        if model is not None and try_load(path, model) is None:
            problems.append(str(path))
    for tid in SCENARIO:
        checks = {
            layout.worktree_record(tid): WorktreeRecord,
            layout.done(tid): DoneRecord,
            layout.escalated(tid): EscalatedRecord,
        }
        for k in range(1, 4):
            checks[layout.summary(tid, k)] = SummaryRecord
            checks[layout.checks(tid, k)] = ChecksRecord
            checks[layout.verdict(tid, k)] = VerdictRecord
        for path, model in checks.items():
            if path.exists() and try_load(path, model) is None:
                problems.append(str(path))
    assert not problems, f"invalid artifacts: {problems}"
    state = json.loads(layout.current_state.read_text(encoding="utf-8"))
    assert isinstance(state.get("taskspecs"), dict) and set(state["taskspecs"]) == set(SCENARIO)
    for line in layout.audit.read_text(encoding="utf-8").splitlines():
        json.loads(line)


# --------------------------------------------------------------------------------------------
# The reference build and where each fault point is passed


@dataclass
class Reference:
    returncode: int
    states: dict[str, tuple[str, int]]
    seconds: float
    occurrences: dict[str, dict[str | None, int]]
    launches: int
    audit_events: int


def occurrences(events: list[dict[str, Any]]) -> dict[str, dict[str | None, int]]:
    """How often a build passes each fault point, per TaskSpec, from its audit trail."""
    per: dict[str, Counter[str | None]] = {point: Counter() for point in FAULT_POINTS}
    for e in events:
        tid, name = e["taskspec_id"], e["event"]
        if name == "step_start":
            per["state.after_backup"][None] += 1  # run_step updates the state after every step
            if e["step"] == "worktree":
                per["worktree.before_script"][tid] += 1
        if name == "step_end":
            step = e["step"]
            if step in ("worktree", "factory", "summary", "checks", "qa"):
                per[f"{step}.before_receipt"][tid] += 1
            if step == "factory":
                per["wait.after_stop"][tid] += 1
            if step == "taskspec":
                per["finish.before_record"][tid] += 1
        if name == "launch":
            per["launch.before_tmux"][tid] += 1
            per["launch.after_tmux"][tid] += 1
            per["wait.started"][tid] += 1
            if e["role"] == "qa":
                per["qa.after_stop"][tid] += 1
        if name == "prompt_submitted":
            per["launch.after_prompt"][tid] += 1
        if name == "summary_injected":
            per["summary.before_request"][tid] += 1
            per["wait.started"][tid] += 1
    # checks.after_tests: every checks step whose factory attempt was a normal stop
    for e in events:
        if e["event"] == "step_end" and e["step"] == "checks":
            per["checks.after_tests"][e["taskspec_id"]] += 1
    return {point: dict(counter) for point, counter in per.items()}


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


# --------------------------------------------------------------------------------------------
# One kill run


@dataclass
class KillPlan:
    point: str
    tid: str | None
    nth: int

    @property
    def spec(self) -> str:
        return self.point + (f"@{self.tid}" if self.tid else "") + f"#{self.nth}"


@dataclass
class KillResult:
    plan: str
    finished_before: int
    alive_before: int
    relaunched: list[str] = field(default_factory=list)
    reattached: list[str] = field(default_factory=list)
    temp_files_left: int = 0
    kill_seconds: float = 0.0
    rerun_seconds: float = 0.0


def plan_kills(
    reference: Reference, points: tuple[str, ...], per_point: int, seed: int
) -> list[KillPlan]:
    """Per point, `per_point` distinct (TaskSpec, n-th passage) picked by `seed`, preferring a
    different TaskSpec for each pick so kills spread over TaskSpecs and attempts."""
    rng = random.Random(seed)
    plans = []
    for point in points:
        candidates = [
            (tid, n)
            for tid, count in sorted(reference.occurrences[point].items(), key=str)
            for n in range(1, count + 1)
        ]
        rng.shuffle(candidates)
        picked: list[tuple[str | None, int]] = []
        for tid, n in candidates:
            if len(picked) == per_point:
                break
            if any(t == tid for t, _ in picked) and len({t for t, _ in candidates}) > len(picked):
                continue
            picked.append((tid, n))
        for tid, n in candidates:  # fewer TaskSpecs than picks: allow repeats of a TaskSpec
            if len(picked) < per_point and (tid, n) not in picked:
                picked.append((tid, n))
        plans += [KillPlan(point, tid, n) for tid, n in picked]
    return plans


def kill_and_resume(base: Path, reference: Reference, plan: KillPlan) -> KillResult:
    name = plan.spec.replace("@", "-").replace("#", "-")
    with fresh_project(base, name) as project:
        planning_before = tree_hashes(project.planning)
        env = {**project.env, "HATCHDOIT_FAULT": plan.spec}
        started = time.monotonic()
        killed = subprocess.run(
            [doit_executable(), *BUILD],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        kill_seconds = time.monotonic() - started
        assert killed.returncode == -signal.SIGKILL, (
            f"{plan.spec}: doit was not killed at the fault point (rc {killed.returncode})\n"
            f"{killed.stdout}\n{killed.stderr}"
        )
        events = read_audit(project)
        if plan.tid is not None:
            assert events and events[-1]["taskspec_id"] == plan.tid, (
                f"{plan.spec}: the last audit event before the kill is {events[-1:]}"
            )
        assert_logs_parse(project)
        finished = finished_steps(project)
        alive = alive_attempts(project)
        mark = audit_lines(project)
        temp_files = len(list(project.logs.rglob(".*.tmp")))

        started = time.monotonic()
        rerun = run_doit(project, *BUILD, timeout=300)
        rerun_seconds = time.monotonic() - started
        output = rerun.stdout + rerun.stderr
        assert rerun.returncode == reference.returncode, f"{plan.spec}: rerun:\n{output}"
        assert "Traceback" not in output, output

        assert end_states(project) == reference.states, plan.spec
        after = audit_after(project, mark)
        restarted = sorted(
            (e["taskspec_id"], e["step"], int(e["attempt"]))
            for e in after
            if e["event"] == "step_start"
            and (e["taskspec_id"], e["step"], int(e["attempt"])) in finished
        )
        assert not restarted, f"{plan.spec}: finished steps started again: {restarted}"
        relaunched = sorted(
            (e["taskspec_id"], e["role"], int(e["attempt"]))
            for e in after
            if e["event"] == "launch"
        )
        double = [r for r in relaunched if r in alive]
        assert not double, f"{plan.spec}: launched again while its session was alive: {double}"
        all_launches = Counter(
            (e["taskspec_id"], e["role"], int(e["attempt"]))
            for e in read_audit(project)
            if e["event"] == "launch"
        )
        assert max(all_launches.values()) <= 2, all_launches
        assert_artifacts_valid(project)
        leftover = project.tmux("list-sessions")
        assert leftover.returncode != 0 or not leftover.stdout.strip(), (
            f"{plan.spec}: agent sessions left running: {leftover.stdout}"
        )
        assert tree_hashes(project.planning) == planning_before
        return KillResult(
            plan=plan.spec,
            finished_before=len(finished),
            alive_before=len(alive),
            relaunched=[f"{t}/{r}/{k}" for t, r, k in relaunched],
            reattached=reattached(after),
            temp_files_left=temp_files,
            kill_seconds=round(kill_seconds, 2),
            rerun_seconds=round(rerun_seconds, 2),
        )


def reattached(after: list[dict[str, Any]]) -> list[str]:
    return [
        f"{e['taskspec_id']}/{e['role']}/{e['attempt']}" for e in after if e["event"] == "reattach"
    ]


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
        assert_logs_parse(project)
        finished = finished_steps(project)
        alive = alive_attempts(project)
        mark = audit_lines(project)
        temp_files = len(list(project.logs.rglob(".*.tmp")))
        started = time.monotonic()
        rerun = run_doit(project, *BUILD, timeout=300)
        rerun_seconds = time.monotonic() - started
        assert rerun.returncode == reference.returncode, rerun.stdout + rerun.stderr
        assert end_states(project) == reference.states
        after = audit_after(project, mark)
        restarted = [
            e
            for e in after
            if e["event"] == "step_start"
            and (e["taskspec_id"], e["step"], int(e["attempt"])) in finished
        ]
        assert not restarted, f"finished steps started again: {restarted}"
        double = [
            e
            for e in after
            if e["event"] == "launch" and (e["taskspec_id"], e["role"], int(e["attempt"])) in alive
        ]
        assert not double, f"launched again while its session was alive: {double}"
        assert_artifacts_valid(project)
        assert tree_hashes(project.planning) == planning_before
        return KillResult(
            plan=f"outside#{n}@event{killed_at}",
            finished_before=len(finished),
            alive_before=len(alive),
            relaunched=[
                f"{e['taskspec_id']}/{e['role']}/{e['attempt']}"
                for e in after
                if e["event"] == "launch"
            ],
            reattached=reattached(after),
            temp_files_left=temp_files,
            rerun_seconds=round(rerun_seconds, 2),
        )


# --------------------------------------------------------------------------------------------
# SIGTERM and SIGINT during an agent wait


def doit_pids(root: Path) -> list[int]:
    """Processes (other than agents in tmux) running doit in the project root."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cwd == str(root) and any(part.endswith(b"doit") for part in cmdline[:2]):
            pids.append(int(proc.name))
    return pids


@pytest.mark.parametrize(
    ("signum", "args"),
    [
        (signal.SIGTERM, ()),
        (signal.SIGINT, ()),
        (signal.SIGTERM, ("-n", "2")),
        (signal.SIGINT, ("-n", "2")),
    ],
    ids=["term", "int", "term-n2", "int-n2"],
)
def test_signal_during_agent_wait_stops_cleanly_and_rerun_resumes(
    project: HatchProject, signum: signal.Signals, args: tuple[str, ...]
) -> None:
    """SIGTERM goes to doit alone (a service manager); SIGINT to doit's whole process group, as
    Ctrl-C in a terminal does. Both TaskSpecs' agents hang in attempt 1 and work in attempt 2."""
    project.configure(limits={"factory": {"idle_timeout": 2, "wall_timeout": 60}})
    tids = ["SG1", "SG2"]
    for n, tid in enumerate(tids):
        project.add_taskspec(
            tid,
            body=module_body(f"sg{n}", f"sg{n}", str(n)),
            scripted={"factory": ["hang", "succeed"]},
            max_attempts=2,
        )
    out = project.root.parent / "signalled.out"
    with open(out, "w", encoding="utf-8") as handle:
        proc = subprocess.Popen(
            [doit_executable(), *args],
            cwd=project.root,
            env=project.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        waiting = tids if args else tids[:1]
        for tid in waiting:
            marker = project.layout.marker(tid, "factory", 1, "submitted")
            retry_until(lambda m=marker: proc.poll() is None and m.exists(), timeout=60)
        sessions = [
            load_valid(project.layout.launch_record(tid, "factory", 1), LaunchRecord).session
            for tid in waiting
        ]
        sent = time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        code = proc.wait(timeout=20)
        stopped_in = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    output = out.read_text(encoding="utf-8")
    assert code == 128 + signum, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    stop_lines = [line for line in output.splitlines() if f"stopped by {signum.name}" in line]
    assert len(stop_lines) == 1, output
    assert stop_lines[0].startswith("hatchdoit: ") and "run doit again to resume" in stop_lines[0]
    retry_until(lambda: not doit_pids(project.root), timeout=10, what="doit processes gone")
    assert all(project.session_alive(s) for s in sessions), "agent sessions died with doit"
    assert_logs_parse(project)
    json.loads(project.layout.current_state.read_text(encoding="utf-8"))
    print(f"\n  {signum.name} {' '.join(args)}: exit {code} after {stopped_in:.2f}s")

    mark = audit_lines(project)
    rerun = run_doit(project, *args, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for tid in tids:
        assert load_valid(project.layout.done(tid), DoneRecord).attempt == 2
    after = audit_after(project, mark)
    relaunched = [
        e
        for e in after
        if e["event"] == "launch" and e["attempt"] == 1 and e["taskspec_id"] in waiting
    ]
    assert not relaunched, f"attempt 1 launched again instead of re-attached: {relaunched}"
    reattached = {e["taskspec_id"] for e in after if e["event"] == "reattach"}
    assert set(waiting) <= reattached
    assert_artifacts_valid_for(project, tids)


def assert_artifacts_valid_for(project: HatchProject, tids: list[str]) -> None:
    assert_logs_parse(project)
    for path in sorted((project.logs / "state").glob("*/*.receipt.json")):
        load_valid(path, Receipt)
    state = json.loads(project.layout.current_state.read_text(encoding="utf-8"))
    assert set(state["taskspecs"]) == set(tids)


# --------------------------------------------------------------------------------------------
# doit -n 2: a killed worker, a killed main process


@contextmanager
def own_session_doit(
    project: HatchProject, *args: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """doit in a process group of its own, killed as a group at the end of the block."""
    proc = subprocess.Popen(
        [doit_executable(), *args],
        cwd=project.root,
        env=env or project.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def two_parallel_taskspecs(project: HatchProject, factory: list[str]) -> None:
    project.configure(limits={"factory": {"idle_timeout": 3, "wall_timeout": 60}})
    for n, tid in enumerate(("NA", "NB")):
        project.add_taskspec(
            tid,
            body=module_body(f"n{n}", f"n{n}", str(n)),
            scripted={"factory": factory},
            max_attempts=2,
        )


def test_worker_killed_under_doit_n2_does_not_hang_the_build(project: HatchProject) -> None:
    two_parallel_taskspecs(project, ["succeed"])
    env = {**project.env, "HATCHDOIT_FAULT": "wait.started@NA#1"}
    with own_session_doit(project, "-n", "2", env=env) as proc:
        retry_until(lambda: project.layout.done("NB").exists(), timeout=90, what="NB done")
        try:
            code: int | None = proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            code = None
    assert code is not None and code != 0, "doit -n 2 still running 8 s after its last task"


def test_killed_worker_is_named_and_the_rerun_resumes(project: HatchProject) -> None:
    """What a dead worker leaves: a line naming its step at once and one when the build stops,
    exit 1, no doit process, its agent session; the rerun (which takes the build lock) re-attaches
    to that session instead of launching it again."""
    two_parallel_taskspecs(project, ["hang", "succeed"])
    env = {**project.env, "HATCHDOIT_FAULT": "wait.started@NA#1"}
    killed = subprocess.run(
        [doit_executable(), "-n", "2"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = killed.stdout + killed.stderr
    assert killed.returncode == 1, output
    assert "Traceback" not in output, output
    noticed = [line for line in output.splitlines() if "the build goes on" in line]
    assert len(noticed) == 1 and "running factory:NA.1" in noticed[0], output
    stopped = [line for line in output.splitlines() if "build stopped" in line]
    assert len(stopped) == 1, output
    assert stopped[0].startswith("hatchdoit: build stopped: doit worker ")
    assert "was killed by SIGKILL while running factory:NA.1" in stopped[0]
    assert stopped[0].endswith("rerun doit to resume")
    retry_until(lambda: not doit_pids(project.root), timeout=10, what="doit processes gone")
    session = load_valid(project.layout.launch_record("NA", "factory", 1), LaunchRecord).session
    assert project.session_alive(session), "the agent session died with its worker"

    mark = audit_lines(project)
    rerun = run_doit(project, "-n", "2", timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for tid in ("NA", "NB"):
        assert load_valid(project.layout.done(tid), DoneRecord).attempt == 2
    after = audit_after(project, mark)
    relaunched = [
        e
        for e in after
        if e["event"] == "launch" and e["taskspec_id"] == "NA" and e["role"] == "factory"
    ]
    assert [e["attempt"] for e in relaunched] == [2], relaunched
    assert any(e["event"] == "reattach" and e["taskspec_id"] == "NA" for e in after)
    assert_artifacts_valid_for(project, ["NA", "NB"])


def test_sigkill_of_doit_n2_leaves_nothing_holding_the_lock(project: HatchProject) -> None:
    two_parallel_taskspecs(project, ["hang", "succeed"])
    with own_session_doit(project, "-n", "2") as proc:
        for tid in ("NA", "NB"):
            marker = project.layout.marker(tid, "factory", 1, "submitted")
            retry_until(lambda m=marker: m.exists(), timeout=60, what=f"{tid} agent working")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(1.0)  # the observation window for orphaned workers
        orphans = doit_pids(project.root)
        rerun = run_doit(project, "-n", "2", timeout=120)
    assert not orphans, f"doit workers left running after the main process was killed: {orphans}"
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
