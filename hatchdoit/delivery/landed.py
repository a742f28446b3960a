"""Whether a TaskSpec's approved work is delivered: its integrate.json is the receipt of the
current inputs, delivery mode and approved commit. Light on imports: doit asks it of every
TaskSpec on every `doit list`, and status reads it."""

from __future__ import annotations

from hatchdoit.project import Project
from hatchdoit.records.models import IntegrationRecord
from hatchdoit.records.schemas import try_load


def current_integration(
    project: Project, tid: str, approved: str | None = None
) -> IntegrationRecord | None:
    """integrate.json when it records the current inputs and approved commit (integrated or
    escalated), else None. `approved`: the commit of a done.json the caller found current."""
    record = try_load(project.layout.integration(tid), IntegrationRecord)
    if record is None or record.digest != project.step_digest(tid, "integrate", 0):
        return None
    if record.approved_commit != (approved or project.approved_commit(tid)):
        return None
    return record


def integrated(project: Project, tid: str) -> bool:
    record = current_integration(project, tid)
    return record is not None and record.outcome == "integrated"
