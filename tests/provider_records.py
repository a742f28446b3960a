"""The state files of paused TaskSpecs, provider breakers, stops and budget escalations, written
as the build writes them (the records' models, the layout's paths), for the tests of what
status, watch, report, JUnit and metrics say about them (test_provider_views.py,
test_provider_reports.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from daily_use import hatchdoit
from projects import HatchProject

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.project import load_project
from hatchdoit.records.models import (
    BudgetRecord,
    EscalatedRecord,
    PausedRecord,
    ProviderState,
    StopRecord,
)
from hatchdoit.run.budget_state import budget_reason

RESUME = datetime.now(UTC) + timedelta(hours=1)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pause(project: HatchProject, tid: str, **fields: Any) -> PausedRecord:
    values: dict[str, Any] = {
        "taskspec_id": tid,
        "role": "factory",
        "attempt": 1,
        "provider": "claude",
        "fault": "usage_limit",
        "message": "You've hit your limit · resets 3pm",
        "waiting_for": "fault",
        "resume_at": utc(RESUME),
        **fields,
    }
    record = PausedRecord(**values)
    write_json_atomic(project.layout.paused(tid), record.model_dump(mode="json"))
    return record


def breaker(project: HatchProject, provider: str, **fields: Any) -> ProviderState:
    state = ProviderState(provider=provider, **fields)
    write_json_atomic(project.layout.provider_state(provider), state.model_dump(mode="json"))
    return state


def stop(
    project: HatchProject, tid: str, name: str, payload: dict[str, Any], token: str = "tok"
) -> None:
    record = StopRecord(
        run_token=token,
        taskspec_id=tid,
        role="factory",
        attempt=1,
        event="stop",
        source="hook",
        payload=payload,
    )
    write_json_atomic(project.layout.hooks_dir(tid) / name, record.model_dump(mode="json"))


def status_json(project: HatchProject) -> dict[str, Any]:
    done = hatchdoit(project, "status", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(data, json.loads(hatchdoit(project, "status", "--schema").stdout))
    return data


def rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["taskspec_id"]: row for row in data["taskspecs"]}


def budget_escalation(project: HatchProject, tid: str) -> str:
    """Escalated by its spend cap, as steps/finish.py records it."""
    built = load_project(project.root)
    reason = budget_reason(
        BudgetRecord(taskspec_id=tid, scope="taskspec", spent_usd=2.5, cap_usd=2.0, attempt=1)
    )
    record = EscalatedRecord(
        taskspec_id=tid,
        digest=built.digest(tid),
        attempts=1,
        reasons=["attempt 1: tests failed", reason],
    )
    write_json_atomic(project.layout.escalated(tid), record.model_dump(mode="json"))
    return reason
