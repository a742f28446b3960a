"""Where each TaskSpec stands, derived from its artifacts alone (so it is right after a crash)."""

from __future__ import annotations

from typing import Any

from hatchdoit.project import Project
from hatchdoit.receipts import current_receipt
from hatchdoit.records import DoneRecord, EscalatedRecord
from hatchdoit.schemas import try_load

STEPS_PER_ATTEMPT = ("factory", "summary", "checks", "qa")


def taskspec_progress(project: Project, tid: str) -> dict[str, Any]:
    """{status, step, attempt, decision} for one TaskSpec under the current inputs."""
    layout, digest = project.layout, project.digest(tid)
    done = try_load(layout.done(tid), DoneRecord)
    if done is not None and done.digest == digest:
        return {"status": "done", "step": "done", "attempt": done.attempt}
    escalated = try_load(layout.escalated(tid), EscalatedRecord)
    if escalated is not None and escalated.digest == digest:
        return {
            "status": "escalated",
            "step": "escalated",
            "attempt": escalated.attempts,
            "reasons": escalated.reasons[-3:],
        }
    if current_receipt(layout, tid, "worktree", 0, digest) is None:
        return {"status": "pending", "step": "worktree", "attempt": 0}
    last: dict[str, Any] = {"status": "active", "step": "worktree", "attempt": 0}
    for k in range(1, project.max_attempts(tid) + 1):
        for step in STEPS_PER_ATTEMPT:
            rec = current_receipt(layout, tid, step, k, digest)
            if rec is None:
                return {**last, "next": f"{step} {k}"}
            last = {"status": "active", "step": step, "attempt": k, "outcome": rec.outcome}
            if step == "qa":
                last["decision"] = rec.data.get("decision")
                if rec.data.get("decision") == "approved":
                    return {**last, "next": "finish"}
    return {**last, "next": "finish"}
