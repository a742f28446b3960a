"""The audit trail read back: step runs (start to end) and one-line descriptions of events.

`_logs/audit.jsonl` is the only record of *when* things happened; receipts say what the latest
run of a step produced. Status, watch, metrics, the report and JUnit all read time from here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

StepKey = tuple[str, str, int]  # (taskspec id, step, attempt)


def parse_ts(value: object) -> datetime | None:
    """An ISO timestamp from a record, or None when absent or malformed."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age_seconds(ts: object, now: datetime | None = None) -> float | None:
    parsed = parse_ts(ts)
    if parsed is None:
        return None
    return max(0.0, ((now or datetime.now(UTC)) - parsed).total_seconds())


@dataclass
class StepRun:
    """One execution of a step, from its `step_start` to its `step_end` or `step_error`."""

    taskspec_id: str
    step: str
    attempt: int
    start: datetime
    end: datetime | None = None
    result: str = "open"  # ok (step_end), error (step_error), open (still running or killed)
    error: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.end is None else max(0.0, (self.end - self.start).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        return {
            "taskspec_id": self.taskspec_id,
            "step": self.step,
            "attempt": self.attempt,
            "start": self.start.isoformat(timespec="milliseconds"),
            "end": self.end.isoformat(timespec="milliseconds") if self.end else None,
            "duration_s": None if self.duration is None else round(self.duration, 3),
            "result": self.result,
            "error": self.error,
        }


def step_runs(events: list[dict[str, Any]]) -> list[StepRun]:
    """Pair every `step_start` with the next `step_end`/`step_error` of the same step; a start
    followed by another start of the same step (a killed build) stays open."""
    runs: list[StepRun] = []
    open_runs: dict[StepKey, StepRun] = {}
    for event in events:
        kind = event.get("event")
        if kind not in ("step_start", "step_end", "step_error"):
            continue
        try:
            key: StepKey = (str(event["taskspec_id"]), str(event["step"]), int(event["attempt"]))
        except (KeyError, TypeError, ValueError):
            continue
        ts = parse_ts(event.get("ts"))
        if ts is None:
            continue
        if kind == "step_start":
            run = StepRun(key[0], key[1], key[2], start=ts)
            open_runs[key] = run
            runs.append(run)
            continue
        started = open_runs.pop(key, None)
        if started is None:
            continue
        started.end = ts
        started.result = "ok" if kind == "step_end" else "error"
        if kind == "step_error":
            started.error = str(event.get("error") or "")
    return runs


def _usd(value: object) -> str:
    return f"${value:.2f}" if isinstance(value, int | float) else "$?"


def describe(event: dict[str, Any]) -> str:
    """A short human sentence for one audit event."""
    kind = str(event.get("event", "?"))
    step, attempt = event.get("step", ""), event.get("attempt", "")
    role = event.get("role", "")
    label = f"{step} {attempt}" if attempt else str(step)
    texts = {
        "step_start": f"{label} started",
        "step_end": f"{label} finished",
        "step_error": f"{label} error: {event.get('error', '')}",
        "launch": f"{role} {attempt} launched ({event.get('profile', '?')})",
        "reattach": f"re-attached to {role} {attempt}",
        "prompt_submitted": f"prompt submitted to {role} {attempt}",
        "stop": f"{role} {attempt} stopped: {event.get('stop_event', '?')}",
        "summary_injected": f"asked {role} {attempt} for its summary (#{event.get('nth', 1)})",
        "verdict": f"attempt {attempt} {event.get('decision', '?')}",
        "done": f"done (attempt {attempt})",
        "escalated": f"escalated after {event.get('attempts', '?')} attempt(s)",
        "provider_fault": f"{role} {attempt} paused: {event.get('fault_class', '?')} on "
        f"{event.get('provider', '?')}",
        "resumed": f"{role} {attempt} resumed after {event.get('paused_s', '?')}s paused",
        "provider_answered": f"{event.get('provider', '?')} answered {role} {attempt}'s probe",
        "budget": f"budget: spent {_usd(event.get('spent_usd'))} of {_usd(event.get('cap_usd'))}",
        "output_taken": f"took {role} {attempt}'s output ({event.get('source', '?')})",
        "branch_tampered": f"{event.get('branch', '?')} holds TaskSpec work no integration "
        f"landed ({event.get('when', '?')}): the build stopped",
    }
    return texts.get(kind, kind.replace("_", " "))


def last_events(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest audit event of each TaskSpec."""
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        tid = event.get("taskspec_id")
        if not isinstance(tid, str):
            continue
        previous = latest.get(tid)
        # "qa 1 finished" right after "attempt 1 approved" says less than what it follows, as
        # does the finish step's error right after "escalated"
        kind = event.get("event")
        before = previous.get("event") if previous is not None else None
        if (kind == "step_end" and before not in (None, "step_start", "step_end")) or (
            kind == "step_error" and before == "escalated"
        ):
            continue
        latest[tid] = event
    return latest


class AuditTail:
    """Reads `audit.jsonl` incrementally: each `read()` returns the events appended since the
    last call (a torn last line waits for its newline; a replaced file is read from the start)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        self._offset = 0
        self._inode: int | None = None

    def read(self) -> list[dict[str, Any]]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._inode, self._offset, self.events = st.st_ino, 0, []
        if st.st_size == self._offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        complete = chunk.rfind(b"\n") + 1
        self._offset += complete
        new: list[dict[str, Any]] = []
        for line in chunk[:complete].splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                new.append(value)
        self.events.extend(new)
        return new
