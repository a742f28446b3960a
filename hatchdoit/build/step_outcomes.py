"""What the progress line of a finished step says: its outcome read back from its receipt (the
decision of a QA step with its first reason, where an integration landed, ...)."""

from __future__ import annotations

from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.project import Project
from hatchdoit.records.models import IntegrationRecord, Receipt
from hatchdoit.records.schemas import try_load


def first_line(text: str, limit: int = 140) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def last_line(text: str, limit: int = 140) -> str:
    """The last line of a message: where a traceback names the exception."""
    lines = text.strip().splitlines()
    return first_line(lines[-1] if lines else "", limit)


def _delivered(project: Project, tid: str) -> str:
    """How a TaskSpec's work was delivered, in a few words."""
    record = try_load(project.layout.integration(tid), IntegrationRecord)
    if record is None:  # handed to the batch landing now (steps/merge_batch.py), or nothing to do
        queued = (project.layout.state_dir(tid) / "integrate.queued.json").is_file()
        return "queued: the batch landing now lands it" if queued else "ok"
    if record.pr_url:
        return f"pull request #{record.pr_number} {record.pr_url}"
    landed = (record.landed_commit or "")[:12]
    done = {"merge": "merged", "squash": "squashed", "rebase": "rebased"}.get(record.mode)
    return f"{done} into {record.branch} as {landed}"


def step_outcome(project: Project, step: str, tid: str, attempt: int) -> tuple[bool, str]:
    """(ok, what its progress line says) of a step that just ended, from its receipt."""
    if step == "taskspec":
        progress = taskspec_progress(project, tid) if tid in project.plan.taskspecs else {}
        return True, f"done (attempt {progress.get('attempt', '?')})"
    if step == "integrate":
        return True, _delivered(project, tid)
    receipt = try_load(project.layout.receipt(tid, step, attempt), Receipt)
    if receipt is None:
        return True, "skipped: an earlier attempt was approved"
    if step == "qa":
        decision = str(receipt.data.get("decision", receipt.outcome))
        reason = f": {first_line(receipt.reasons[0])}" if receipt.reasons else ""
        return receipt.outcome == "ok", decision + ("" if receipt.outcome == "ok" else reason)
    if receipt.outcome == "ok":
        detail = receipt.data.get("event") if step == "factory" else None
        return True, str(detail or "ok")
    reason = first_line(receipt.reasons[0]) if receipt.reasons else ""
    return False, "failed" + (f": {reason}" if reason else "")
