"""What each TaskSpec's attempts produced, gathered from their artifact files: the stop, checks,
QA verdict and feedback of every attempt, why it failed, and the path of every artifact. The HTML
report and the JUnit file both read TaskSpecs through here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hatchdoit.layout import ROLES, Layout
from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.observe.timeline import StepRun
from hatchdoit.planning.specs import TaskSpec
from hatchdoit.project import Project
from hatchdoit.records.models import (
    ChecksRecord,
    DecisionRecord,
    DoneRecord,
    EscalatedRecord,
    IntegrationRecord,
    LaunchRecord,
    Receipt,
    StopRecord,
    VerdictRecord,
)
from hatchdoit.records.schemas import try_load

ATTEMPT_STEPS = ("factory", "summary", "checks", "qa")


@dataclass
class AttemptDetail:
    attempt: int
    receipts: dict[str, Receipt]
    launches: dict[str, LaunchRecord]
    stops: dict[str, StopRecord]
    checks: ChecksRecord | None
    verdict: VerdictRecord | None
    artifacts: list[tuple[str, Path]]

    @property
    def decision(self) -> str | None:
        qa = self.receipts.get("qa")
        return None if qa is None else str(qa.data.get("decision"))

    @property
    def feedback(self) -> str:
        qa = self.receipts.get("qa")
        text = str(qa.data.get("feedback") or "") if qa is not None else ""
        return text or (self.verdict.feedback if self.verdict is not None else "")

    @property
    def reasons(self) -> list[str]:
        """Why the attempt was not approved: QA's reasons, else the failed steps' reasons."""
        qa = self.receipts.get("qa")
        if qa is not None and qa.reasons:
            return list(qa.reasons)
        found: list[str] = []
        for step in ATTEMPT_STEPS:
            rec = self.receipts.get(step)
            if rec is not None and rec.outcome == "failed":
                found += [r for r in rec.reasons if r not in found]
        return found


@dataclass
class TaskDetail:
    spec: TaskSpec
    progress: dict[str, Any]
    attempts: list[AttemptDetail]
    done: DoneRecord | None
    escalated: EscalatedRecord | None
    runs: list[StepRun] = field(default_factory=list)
    artifacts: list[tuple[str, Path]] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    integration: IntegrationRecord | None = None
    build_confinement: dict[str, str] = field(default_factory=dict)  # _logs/confinement.json

    @property
    def tid(self) -> str:
        return self.spec.id

    @property
    def status(self) -> str:
        return str(self.progress["status"])

    @property
    def duration(self) -> float:
        return sum(run.duration or 0.0 for run in self.runs)

    def last_error(self) -> str | None:
        errors = [run.error for run in self.runs if run.result == "error" and run.error]
        return errors[-1] if errors else None


def _existing(items: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    return [(label, path) for label, path in items if path.is_file()]


def attempt_detail(layout: Layout, tid: str, attempt: int) -> AttemptDetail | None:
    """Everything attempt `attempt` left behind, or None if it never started."""
    receipts: dict[str, Receipt] = {}
    for step in ATTEMPT_STEPS:
        rec = try_load(layout.receipt(tid, step, attempt), Receipt)
        if rec is not None:
            receipts[step] = rec
    launches: dict[str, LaunchRecord] = {}
    stops: dict[str, StopRecord] = {}
    for role in ROLES:
        launch = try_load(layout.launch_record(tid, role, attempt), LaunchRecord)
        if launch is not None:
            launches[role] = launch
        stop = try_load(layout.stop_file(tid, role, attempt), StopRecord)
        if stop is not None:
            stops[role] = stop
    if not receipts and not launches:
        return None
    candidates: list[tuple[str, Path]] = []
    for role in ROLES:
        candidates += [
            (f"{role} prompt", layout.prompt(tid, role, attempt)),
            (f"{role} launch", layout.launch_record(tid, role, attempt)),
            (f"{role} stop", layout.stop_file(tid, role, attempt)),
            (f"{role} pane log", layout.pane_log(tid, role, attempt)),
            (f"{role} screen", layout.screen_capture(tid, role, attempt)),
        ]
    candidates += [
        ("summary", layout.summary(tid, attempt)),
        ("checks", layout.checks(tid, attempt)),
        ("test log", layout.checks_log(tid, attempt)),
        ("QA verdict", layout.verdict(tid, attempt)),
    ]
    candidates += [(f"{s} receipt", layout.receipt(tid, s, attempt)) for s in ATTEMPT_STEPS]
    return AttemptDetail(
        attempt=attempt,
        receipts=receipts,
        launches=launches,
        stops=stops,
        checks=try_load(layout.checks(tid, attempt), ChecksRecord),
        verdict=try_load(layout.verdict(tid, attempt), VerdictRecord),
        artifacts=_existing(candidates),
    )


def task_details(project: Project, runs: list[StepRun] | None = None) -> dict[str, TaskDetail]:
    """Details of every TaskSpec of the plan, in dependency order."""
    layout = project.layout
    details: dict[str, TaskDetail] = {}
    build = build_confinement(layout.confinement_record)
    for tid in project.plan.taskspecs:
        attempts = []
        for k in range(1, project.attempt_count(tid) + 1):  # those before a reset too
            found = attempt_detail(layout, tid, k)
            if found is not None:
                attempts.append(found)
        detail = TaskDetail(
            spec=project.taskspec(tid),
            progress=taskspec_progress(project, tid),
            attempts=attempts,
            done=try_load(layout.done(tid), DoneRecord),
            escalated=try_load(layout.escalated(tid), EscalatedRecord),
            runs=[r for r in runs or [] if r.taskspec_id == tid],
            decisions=project.decisions(tid),
            integration=try_load(layout.integration(tid), IntegrationRecord),
            build_confinement=build,
            artifacts=_existing(
                [
                    ("TaskSpec", project.plan.taskspecs[tid].path),
                    ("worktree record", layout.worktree_record(tid)),
                    ("done", layout.done(tid)),
                    ("escalated", layout.escalated(tid)),
                    ("integration", layout.integration(tid)),
                ]
            ),
        )
        if detail.status != "done":
            detail.blocked_by = [
                dep for dep in detail.spec.depends_on if details[dep].status != "done"
            ]
        details[tid] = detail
    return details


def build_confinement(path: Path) -> dict[str, str]:
    """The last build's confinement record (build/confinement_start.py), {} when none."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in record.items()} if isinstance(record, dict) else {}


def run_confinements(detail: TaskDetail) -> list[tuple[str, str]]:
    """(run, label) of every agent session and test run on record for the TaskSpec, label
    `confined`, `unconfined` or `off` (README: What an agent can touch); runs recorded before
    confinement existed are left out."""
    runs: list[tuple[str, str | None]] = []
    for attempt in detail.attempts:
        k = attempt.attempt
        runs += [(f"{role} attempt {k}", run.confinement) for role, run in attempt.launches.items()]
        if attempt.checks is not None and attempt.checks.tests is not None:
            runs.append((f"tests attempt {k}", attempt.checks.tests.confinement))
    if detail.integration is not None:
        runs += [("post-merge tests", t.confinement) for t in detail.integration.tests]
    return [(run, label) for run, label in runs if label]


def failure_text(detail: TaskDetail) -> str:
    """Why a TaskSpec is not done, attempt by attempt: QA reasons and feedback, failed checks."""
    lines: list[str] = []
    if detail.status == "escalated" and detail.progress.get("step") == "integrate":
        lines.append("escalated: the approved work could not be integrated")
        lines += [f"  - {reason}" for reason in detail.progress.get("reasons", [])]
    elif detail.escalated is not None and detail.status == "escalated":
        lines.append(f"escalated after {detail.escalated.attempts} attempt(s)")
    if detail.blocked_by:
        lines.append(f"blocked: depends on {', '.join(detail.blocked_by)}, which did not finish")
    error = detail.last_error()
    if error and detail.status not in ("done", "escalated"):
        lines.append(f"step error: {error}")
    for attempt in detail.attempts:
        lines.append(f"attempt {attempt.attempt}: {attempt.decision or 'no decision'}")
        lines += [f"  - {reason}" for reason in attempt.reasons]
        if attempt.feedback:
            lines.append(f"  QA feedback: {attempt.feedback}")
        if attempt.checks is not None and attempt.checks.failures:
            lines += [
                f"  checks: {failure}"
                for failure in attempt.checks.failures
                if f"  - {failure}" not in lines
            ]
    return "\n".join(lines)
