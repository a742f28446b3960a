"""Shared by the agent-fault tests (test_agent_faults_*.py): the TaskSpec they build, small
limits with a backoff policy with jitter, readers of its launch and stop records, waiting until
an agent is working, and the check that a fault was detected, logged with context, backed off
before each retry and escalated after the last attempt, with the agent's screen kept.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from typing import Any

from conftest import assert_logs_parse, events, read_log, retry_until
from projects import HatchProject

from hatchdoit.records.models import EscalatedRecord, LaunchRecord, Receipt, StopRecord
from hatchdoit.records.schemas import load_valid, try_load

TID = "AF001-FAULT"
BACKOFF = {"base": 0.4, "factor": 2.0, "max": 5.0, "jitter": 0.5}
GENEROUS = 5.0  # seconds: the only wall-time bound asserted on a detection
# With limits.poll_interval 30 only inotify can wake a wait this soon; the margin is for a loaded
# 2-core CI box (typical figures are tens of milliseconds).
EVENT_BOUND = 1.5
SLOW_POLL = 30.0
BACKING_OFF = re.compile(r"backing off (\d+(?:\.\d+)?)s before retrying")


def limits(project: HatchProject, **role: Any) -> None:
    project.configure(
        limits={
            "factory": {"idle_timeout": 30, "wall_timeout": 60, **role},
            "qa": {"idle_timeout": 30, "wall_timeout": 60},
            "backoff": BACKOFF,
        }
    )


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def stop_of(project: HatchProject, role: str, attempt: int) -> StopRecord:
    return load_valid(project.layout.stop_file(TID, role, attempt), StopRecord)  # type: ignore[arg-type]


def launch_of(project: HatchProject, attempt: int, role: str = "factory") -> LaunchRecord:
    return load_valid(project.layout.launch_record(TID, role, attempt), LaunchRecord)  # type: ignore[arg-type]


def agent_working(project: HatchProject, proc: subprocess.Popen[str], attempt: int) -> LaunchRecord:
    """Wait until the factory agent of `attempt` has its prompt; return its launch record."""
    layout = project.layout

    def probe() -> LaunchRecord | None:
        assert proc.poll() is None, "doit ended before the agent was working"
        if not layout.marker(TID, "factory", attempt, "submitted").exists():
            return None
        return try_load(layout.launch_record(TID, "factory", attempt), LaunchRecord)

    return retry_until(probe, timeout=60, interval=0.02, what=f"factory attempt {attempt} working")


def assert_fault_handled(
    project: HatchProject,
    *,
    attempts: int,
    stop_events: tuple[str, ...],
    reason: str | tuple[str, ...],
    screen_text: str | None,
) -> list[float]:
    """Every attempt ended in an orchestrator stop of `stop_events`, logged with context, backed
    off before the next attempt, and the TaskSpec escalated; return the backoff delays."""
    layout = project.layout
    errors = [
        line
        for line in read_log(project, "factory")
        if line["level"] == "ERROR" and line.get("operation") == "wait_for_stop"
    ]
    delays = []
    for k in range(1, attempts + 1):
        stop = stop_of(project, "factory", k)
        assert stop.source == "orchestrator" and stop.event in stop_events, stop
        reasons = (reason,) if isinstance(reason, str) else reason
        assert any(r in stop.reason for r in reasons), stop.reason
        assert stop.run_token == launch_of(project, k).run_token
        receipt = load_valid(layout.receipt(TID, "factory", k), Receipt)
        assert receipt.outcome == "failed" and receipt.reasons
        logged = [e for e in errors if e.get("attempt") == k]
        assert len(logged) == 1, errors
        context = logged[0]
        assert context["taskspec_id"] == TID and context["agent_type"] == "factory"
        assert context["session"] == launch_of(project, k).session
        assert stop.event in context["msg"]
        assert not project.session_alive(launch_of(project, k).session)
        if screen_text is not None:
            screen = layout.screen_capture(TID, "factory", k)
            assert screen.is_file(), f"no screen kept for attempt {k}"
            assert screen_text in screen.read_text(encoding="utf-8", errors="replace")
            assert stop.payload.get("screen") == layout.rel(screen)
        if k > 1:
            delays.append(backoff_before(project, k))
    assert len(events(project, "launch", role="factory")) == attempts
    assert events(project, "launch", role="qa") == [], "QA ran on a faulted attempt"
    escalated = load_valid(layout.escalated(TID), EscalatedRecord)
    assert escalated.attempts == attempts
    assert not layout.done(TID).exists()
    critical = [
        line
        for line in read_log(project, "orchestrator")
        if line["level"] == "CRITICAL" and line.get("taskspec_id") == TID
    ]
    assert critical and "escalated" in critical[0]["msg"]
    assert_logs_parse(project)
    return delays


def backoff_before(project: HatchProject, attempt: int) -> float:
    """The WARN 'backing off' delay logged before `attempt`, checked against the policy, and the
    pause actually taken between the previous stop and this launch."""
    lines = [
        line
        for line in read_log(project, "orchestrator")
        if line.get("operation") == "backoff" and line.get("attempt") == attempt
    ]
    assert len(lines) == 1, lines
    assert lines[0]["level"] == "WARN" and lines[0]["taskspec_id"] == TID
    match = BACKING_OFF.search(lines[0]["msg"])
    assert match, lines[0]
    delay = float(match.group(1))
    base = min(BACKOFF["max"], BACKOFF["base"] * BACKOFF["factor"] ** (attempt - 2))
    spread = base * BACKOFF["jitter"]
    assert base - spread - 0.05 <= delay <= base + spread + 0.05, (attempt, delay)
    stop = events(project, "stop", role="factory", attempt=attempt - 1)[-1]
    launch = events(project, "launch", role="factory", attempt=attempt)[0]
    assert ts(launch["ts"]) - ts(stop["ts"]) >= delay - 0.05
    return delay


def report(label: str, **numbers: Any) -> None:
    print(f"\n[agent-faults] {label}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))
