"""Shared by the TaskSpec build tests (test_build_*.py): the TaskSpec id they build, a build
that must succeed, and readers of what a build left: the done and escalated records, step
receipts, stop records and the audit trail's launch events.
"""

from __future__ import annotations

from typing import Any

from conftest import events, run_doit
from projects import HatchProject

from hatchdoit.records.models import DoneRecord, EscalatedRecord, Receipt, StopRecord
from hatchdoit.records.schemas import load_valid

TID = "T001-THING"


def build_ok(project: HatchProject, *args: str, timeout: float = 120) -> str:
    """Run doit and insist it succeeded; return its stdout."""
    done = run_doit(project, *args, timeout=timeout)
    assert done.returncode == 0, f"doit {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def done_record(project: HatchProject, tid: str) -> DoneRecord:
    return load_valid(project.layout.done(tid), DoneRecord)


def escalated_record(project: HatchProject, tid: str) -> EscalatedRecord:
    return load_valid(project.layout.escalated(tid), EscalatedRecord)


def receipt_of(project: HatchProject, tid: str, step: str, attempt: int) -> Receipt:
    return load_valid(project.layout.receipt(tid, step, attempt), Receipt)


def stop_of(project: HatchProject, tid: str, role: str, attempt: int) -> StopRecord:
    return load_valid(project.layout.stop_file(tid, role, attempt), StopRecord)  # type: ignore[arg-type]


def launches(project: HatchProject, **match: Any) -> list[dict[str, Any]]:
    return events(project, "launch", **match)
