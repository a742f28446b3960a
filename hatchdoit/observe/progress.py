"""Where each TaskSpec stands, derived from its artifacts alone (so it is right after a crash)."""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from hatchdoit.delivery.landed import current_integration
from hatchdoit.layout import Layout
from hatchdoit.project import Project
from hatchdoit.records.models import DoneRecord, EscalatedRecord, PausedRecord, Receipt
from hatchdoit.records.receipts import current_receipt
from hatchdoit.records.schemas import read_file, try_load, try_parse
from hatchdoit.records.waiting import read_waiting
from hatchdoit.run.attempts import attempt_superseded, first_attempt, standing
from hatchdoit.run.context import StepContext
from hatchdoit.steps.review_gate import gate_of
from hatchdoit.steps.workspace_setup import setup_failed

STEPS_PER_ATTEMPT = ("factory", "summary", "checks", "qa")


class StateFiles:
    """A TaskSpec's state directory, each part read once when first asked for: its done.json
    and escalated.json whatever inputs they were made for, and the names in it. Status reads
    this for every TaskSpec: done.json is opened straight away (a done TaskSpec needs nothing
    else), the rest is looked up in one listing rather than by failing to open files."""

    def __init__(self, layout: Layout, tid: str) -> None:
        self.directory = layout.state_dir_path(tid)

    @cached_property
    def names(self) -> frozenset[str]:
        try:
            return frozenset(os.listdir(self.directory))
        except OSError:  # nothing built (or unreadable: then nothing can be read from it)
            return frozenset()

    @cached_property
    def done(self) -> DoneRecord | None:
        path = f"{self.directory}/done.json"
        try:
            raw = read_file(path)
        except OSError:
            return None
        return try_parse(raw, path, DoneRecord)

    @cached_property
    def escalated(self) -> EscalatedRecord | None:
        if "escalated.json" not in self.names:
            return None
        return try_load(f"{self.directory}/escalated.json", EscalatedRecord)

    @cached_property
    def paused(self) -> PausedRecord | None:
        if "paused.json" not in self.names:
            return None
        return try_load(f"{self.directory}/paused.json", PausedRecord)

    def paths(self, prefix: str, suffix: str) -> list[str]:
        """The files named `prefix*suffix`, like a glob in the directory."""
        return [
            f"{self.directory}/{name}"
            for name in sorted(self.names)
            if name.startswith(prefix) and name.endswith(suffix)
        ]


def taskspec_progress(
    project: Project, tid: str, files: StateFiles | None = None
) -> dict[str, Any]:
    """{status, step, attempt, decision} for one TaskSpec under the current inputs; `files`
    when the caller has read the TaskSpec's state directory already. A TaskSpec whose provider
    failed (`paused.json`) is `paused` at the step of the role that paused, with `paused`
    saying on what and until when. With delivery on
    (`integrate` is not none), a TaskSpec is done once its work is delivered; approved and not
    delivered yet it is active at step `integrate`."""
    plan_status = project.taskspec(tid).plan_status
    if plan_status is not None:  # a foreign plan says it is finished, or not wanted: not built
        return {"status": "done", "step": f"{plan_status} (in plan)", "attempt": 0, "in_plan": True}
    layout, digest = project.layout, project.digest(tid)
    if files is None:
        files = StateFiles(layout, tid)
    done = files.done
    if done is not None and done.digest == digest:
        return _delivery(project, tid, done.attempt, done.commit, files)
    escalated = files.escalated
    if escalated is not None and escalated.digest == digest:
        return {
            "status": "escalated",
            "step": "escalated",
            "attempt": escalated.attempts,
            "reasons": escalated.reasons[-3:],
        }
    paused = files.paused
    if paused is not None:
        return _paused(paused)
    if "waiting.json" in files.names:  # `hatchdoit ci --shared`: another runner builds it
        waiting = read_waiting(layout, tid, project.step_digest(tid, "worktree", 0))
        if waiting is not None and waiting.kind == "runner":
            return {
                "status": "pending", "step": "worktree", "attempt": 0,
                "awaiting": "runner", "waiting_on": list(waiting.on),
            }  # fmt: skip

    def receipt(step: str, attempt: int) -> Receipt | None:
        if f"{step}-{attempt:03d}.receipt.json" not in files.names:
            return None
        return current_receipt(layout, tid, step, attempt, project.step_digest(tid, step, attempt))

    if receipt("worktree", 0) is None:
        return {"status": "pending", "step": "worktree", "attempt": 0}
    failing = "setup.json" in files.names and project.config.workspace.setup
    failed = setup_failed(layout, tid) if failing else None
    if failed is not None:  # not an attempt: the next doit sets it up again
        return {
            "status": "active", "step": "setup", "attempt": 0, "setup_failed": failed,
            "reasons": [failed],
        }  # fmt: skip
    last: dict[str, Any] = {"status": "active", "step": "worktree", "attempt": 0}
    ctx = StepContext(project, tid)
    for k in range(first_attempt(ctx), project.attempt_count(tid) + 1):
        if attempt_superseded(ctx, k):
            break
        for step in STEPS_PER_ATTEMPT:
            rec = receipt(step, k)
            if rec is None:
                return {**last, "next": f"{step} {k}"}
            last = {"status": "active", "step": step, "attempt": k, "outcome": rec.outcome}
            if step == "qa":
                last["decision"] = rec.data.get("decision")
    approval = standing(ctx) if gate_of(ctx) == "after-qa" else None
    if approval is not None and not approval.reviewed:
        return _awaiting(approval.attempt)
    return {**last, "next": "finish"}


def _paused(record: PausedRecord) -> dict[str, Any]:
    """Waiting on its provider, not on its own work: the same attempt runs again."""
    return {
        "status": "paused",
        "step": record.role,
        "attempt": record.attempt,
        "paused": record.model_dump(mode="json", exclude={"taskspec_id"}),
    }


def _awaiting(attempt: int) -> dict[str, Any]:
    """QA approved; a person has not yet (steps/review_gate.py)."""
    return {"status": "active", "step": "review", "attempt": attempt, "awaiting": "review"}


def _delivery(
    project: Project, tid: str, attempt: int, commit: str, files: StateFiles
) -> dict[str, Any]:
    done: dict[str, Any] = {"status": "done", "step": "done", "attempt": attempt}
    mode = project.config.integrate
    if mode == "none":
        return done
    record = current_integration(project, tid, commit) if "integrate.json" in files.names else None
    if record is None:
        ctx = StepContext(project, tid)
        if gate_of(ctx) == "before-integrate":
            approval = standing(ctx)
            if approval is not None and not approval.reviewed:
                return _awaiting(attempt)
        active = {"status": "active", "step": "integrate", "attempt": attempt, "next": "integrate"}
        waiting = (
            read_waiting(project.layout, tid, project.step_digest(tid, "integrate", 0))
            if "waiting.json" in files.names
            else None
        )
        if waiting is not None:  # records/waiting.py: on a pull request's merge
            return {**active, "awaiting": waiting.kind, "waiting_on": list(waiting.on)}
        return active
    if record.outcome == "escalated":
        return {
            "status": "escalated",
            "step": "integrate",
            "attempt": attempt,
            "reasons": record.reasons[-3:],
        }
    delivered = {"mode": record.mode, "branch": record.branch}
    if record.landed_commit:
        delivered["commit"] = record.landed_commit
    if record.pr_url:
        delivered["pr"] = record.pr_url
    return {**done, "integration": delivered}
