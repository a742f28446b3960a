"""The kill-and-resume scenario of test_faults_kill_sweep.py: five TaskSpecs built with
`doit --continue`, an unkilled reference build (its end states and how often it passes each
fault point, per TaskSpec), and one kill run: a build SIGKILLed at a named fault point, then a
rerun checked against the reference (same end states, no finished step repeated, no second
launch of an attempt whose session was still alive, every artifact valid).
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import assert_logs_parse, read_audit, run_doit, tree_hashes
from projects import HatchProject, doit_executable, make_project, module_body
from resume_checks import audit_after, audit_lines, finished_steps

from hatchdoit.core.testing_faults import FAULT_POINTS
from hatchdoit.records.models import (
    ChecksRecord,
    DoneRecord,
    EscalatedRecord,
    IntegrationRecord,
    LaunchRecord,
    Receipt,
    StopRecord,
    SummaryRecord,
    VerdictRecord,
    WorktreeRecord,
)
from hatchdoit.records.schemas import try_load

BUILD = ("--continue",)  # an escalation must not stop the other TaskSpecs' builds
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


@contextmanager
def fresh_project(base: Path, name: str) -> Iterator[HatchProject]:
    """A scenario project under base/name whose tmux server is killed at the end."""
    where = base / name
    where.mkdir(parents=True)
    project = make_project(where)
    project.configure(
        integrate="merge",
        limits={
            "factory": {"idle_timeout": 20, "wall_timeout": 60},
            "qa": {"idle_timeout": 20, "wall_timeout": 60},
        },
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
    """Per TaskSpec: ('done', approved attempt) once its work landed on main exactly once, or
    ('approved', attempt) before, or ('escalated', attempts) or ('open', 0)."""
    states: dict[str, tuple[str, int]] = {}
    for tid in SCENARIO:
        done = try_load(project.layout.done(tid), DoneRecord)
        escalated = try_load(project.layout.escalated(tid), EscalatedRecord)
        if done is not None:
            landed = landings(project, done.commit)
            assert len(landed) <= 1, f"{tid}: {done.commit} landed {len(landed)} times"
            integrated = try_load(project.layout.integration(tid), IntegrationRecord)
            on_main = integrated is not None and integrated.landed_commit in landed
            states[tid] = ("done" if on_main else "approved", done.attempt)
        elif escalated is not None:
            states[tid] = ("escalated", escalated.attempts)
        else:
            states[tid] = ("open", 0)
    return states


def landings(project: HatchProject, approved: str) -> list[str]:
    """The commits on the target's main that land `approved` (its integration trailer)."""
    done = subprocess.run(
        ["git", "-C", str(project.root / "_target"), "log", "--format=%H", "main", "-F",
         f"--grep=Hatchdoit-Approved: {approved}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.split()


def alive_attempts(project: HatchProject) -> set[tuple[str, str, int]]:
    """(tid, role, attempt) of every recorded agent run whose tmux session is alive."""
    alive = set()
    for path in (project.logs / "state").glob("*/*.launch.json"):
        launch = try_load(path, LaunchRecord)
        if launch is not None and project.session_alive(launch.session):
            alive.add((launch.taskspec_id, launch.role, launch.attempt))
    return alive


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
            layout.integration(tid): IntegrationRecord,
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
        if name == "integrated":  # one landing passes each point of the integration once
            for point in ("after_merge", "before_update_ref", "after_update_ref", "before_receipt"):
                per[f"integrate.{point}"][tid] += 1
    # checks.after_tests: every checks step whose factory attempt was a normal stop
    for e in events:
        if e["event"] == "step_end" and e["step"] == "checks":
            per["checks.after_tests"][e["taskspec_id"]] += 1
    return {point: dict(counter) for point, counter in per.items()}


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
        return KillResult(
            plan=plan.spec,
            kill_seconds=round(kill_seconds, 2),
            **resume_and_check(project, reference, plan.spec, planning_before),
        )


def resume_and_check(
    project: HatchProject, reference: Reference, label: str, planning_before: dict[str, str]
) -> dict[str, Any]:
    """After a killed build: note what was finished and which sessions lived, rerun `doit`, and
    hold the resume to its promises (the reference's end states, no finished step started
    again, no live session launched again, at most one relaunch per run, valid artifacts, no
    session left, the planning repo untouched). Returns KillResult's fields about the resume."""
    assert_logs_parse(project)
    finished = finished_steps(project)
    alive = alive_attempts(project)
    mark = audit_lines(project)
    temp_files = len(list(project.logs.rglob(".*.tmp")))

    started = time.monotonic()
    rerun = run_doit(project, *BUILD, timeout=300)
    rerun_seconds = time.monotonic() - started
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == reference.returncode, f"{label}: rerun:\n{output}"
    assert "Traceback" not in output, output

    assert end_states(project) == reference.states, label
    after = audit_after(project, mark)
    restarted = sorted(
        (e["taskspec_id"], e["step"], int(e["attempt"]))
        for e in after
        if e["event"] == "step_start"
        and (e["taskspec_id"], e["step"], int(e["attempt"])) in finished
    )
    assert not restarted, f"{label}: finished steps started again: {restarted}"
    relaunched = sorted(
        (e["taskspec_id"], e["role"], int(e["attempt"])) for e in after if e["event"] == "launch"
    )
    double = [r for r in relaunched if r in alive]
    assert not double, f"{label}: launched again while its session was alive: {double}"
    all_launches = Counter(
        (e["taskspec_id"], e["role"], int(e["attempt"]))
        for e in read_audit(project)
        if e["event"] == "launch"
    )
    assert max(all_launches.values()) <= 2, all_launches
    assert_artifacts_valid(project)
    leftover = project.tmux("list-sessions")
    assert leftover.returncode != 0 or not leftover.stdout.strip(), (
        f"{label}: agent sessions left running: {leftover.stdout}"
    )
    assert tree_hashes(project.planning) == planning_before, label
    return {
        "finished_before": len(finished),
        "alive_before": len(alive),
        "relaunched": [f"{t}/{r}/{k}" for t, r, k in relaunched],
        "reattached": reattached(after),
        "temp_files_left": temp_files,
        "rerun_seconds": round(rerun_seconds, 2),
    }


def reattached(after: list[dict[str, Any]]) -> list[str]:
    return [
        f"{e['taskspec_id']}/{e['role']}/{e['attempt']}" for e in after if e["event"] == "reattach"
    ]
