"""The provider fault of an agent run, as the orchestrator sees it: what the stop hook or the
headless runner recorded in the `.stop` (`payload.provider_fault`), else what this run's own part
of the pane log says (a TUI waiting at a usage limit may never fire a hook, a CLI may die after
printing why). Only the bytes the run wrote count: the pane log of an attempt holds every launch
of it."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

from hatchdoit.providers.fault_tables import CLAUDE_CODE
from hatchdoit.providers.faults import (
    Fault,
    codex_message,
    from_text,
    transcript_reset,
    utc_text,
)
from hatchdoit.records.fault_classes import FAULT_CLASSES
from hatchdoit.records.models import StopRecord
from hatchdoit.run.agent_run import AgentRun

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]")
_TAIL = 32 * 1024
# What a TUI may show while it stays up: worth ending the run for (the rest the CLI retries).
SCREEN_CLASSES = ("usage_limit", "auth", "billing")
TRANSCRIPT_WAIT = 1.0


def run_output(run: AgentRun) -> str:
    """What this run printed (the end of it), terminal escapes removed."""
    path = run.ctx.layout.pane_log(run.ctx.tid, run.role, run.attempt)
    try:
        with open(path, "rb") as log:
            size = log.seek(0, 2)
            start = max(run.launch.pane_offset, size - _TAIL)
            log.seek(start)
            raw = log.read()
    except OSError:
        return ""
    return _ANSI.sub("", raw.decode("utf-8", errors="replace")).replace("\r", "\n")


def output_fault(run: AgentRun, classes: tuple[str, ...] = FAULT_CLASSES) -> Fault | None:
    """A provider fault in what the run printed, by its profile's table; the last one wins."""
    signals = run.ctx.project.profile(run.ctx.tid, run.role).profile.fault_signals
    text = run_output(run)
    now = datetime.now(UTC)
    found: Fault | None = None
    if signals == "codex":
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            message = _codex_message(event) if isinstance(event, dict) else None
            fault = codex_message(message, now) if message else None
            if fault is not None and not fault.get("retrying"):
                found = fault
    elif signals == "claude":
        for line in text.splitlines():
            fault = from_text(CLAUDE_CODE, line, "screen", now)
            if fault is not None:
                found = fault
    if found is not None and found["class"] in classes:
        return found
    return None


def _codex_message(event: dict[str, object]) -> str | None:
    if event.get("type") == "error":
        return str(event.get("message") or "")
    error = event.get("error")
    if event.get("type") == "turn.failed" and isinstance(error, dict):
        return str(error.get("message") or "")
    return None


def stop_fault(run: AgentRun, stop: StopRecord) -> Fault | None:
    """The provider fault that ended this run, if one did."""
    if stop.event in ("stop", "budget"):
        return None
    recorded = stop.payload.get("provider_fault")
    if isinstance(recorded, dict) and recorded.get("class") in FAULT_CLASSES:
        found: Fault | None = recorded
    else:
        found = output_fault(run)
    if found is not None and found["class"] == "usage_limit" and found.get("signal") != "stream":
        return _exact_reset(run, found, stop.payload.get("transcript_path"))
    return found


def _exact_reset(run: AgentRun, fault: Fault, transcript: object) -> Fault:
    """A Claude Code TUI names its limit's reset to the minute ("resets 3pm"); its transcript's
    API error entry has the second. Claude Code may write that entry just after its hook fired:
    looked for up to TRANSCRIPT_WAIT seconds."""
    if run.ctx.project.profile(run.ctx.tid, run.role).profile.fault_signals != "claude":
        return fault
    paths = [transcript] if isinstance(transcript, str) and transcript else []
    home = run.ctx.layout.session_dir(run.ctx.tid, run.role, run.attempt) / "claude-home"
    deadline = time.monotonic() + TRANSCRIPT_WAIT
    while True:
        found = paths or [str(p) for p in sorted((home / "projects").glob("*/*.jsonl"))]
        for path in found:
            exact = transcript_reset(path)
            if exact is not None:
                return {**fault, "resets_at": utc_text(exact)}
        if time.monotonic() >= deadline:
            return fault
        time.sleep(0.1)
