"""Durations read back from a finished build's artifacts: audit.jsonl timestamps and stop files."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from hatchdoit.layout import Layout
from hatchdoit.records.audit import read_audit
from hatchdoit.records.models import StopRecord
from hatchdoit.records.schemas import try_load


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def step_durations(layout: Layout) -> dict[str, list[float]]:
    """Seconds from step_start to step_end per step name, and agent launch -> stop per role."""
    durations: dict[str, list[float]] = defaultdict(list)
    open_steps: dict[tuple[str, str, int], float] = {}
    launches: dict[tuple[str, str, int], float] = {}
    for event in read_audit(layout.audit):
        tid, attempt = str(event.get("taskspec_id")), int(event.get("attempt") or 0)
        name = event.get("event")
        if name == "step_start":
            open_steps[(tid, str(event["step"]), attempt)] = _ts(event["ts"])
        elif name == "step_end":
            begun = open_steps.pop((tid, str(event["step"]), attempt), None)
            if begun is not None:
                durations[str(event["step"])].append(_ts(event["ts"]) - begun)
        elif name == "launch":
            launches[(tid, str(event["role"]), attempt)] = _ts(event["ts"])
        elif name == "stop":
            begun = launches.pop((tid, str(event["role"]), attempt), None)
            if begun is not None:
                durations[f"agent {event['role']} launch->stop"].append(_ts(event["ts"]) - begun)
    return dict(durations)


def stop_to_next_step(layout: Layout) -> list[float]:
    """For every factory/qa stop written by a hook: the stop file's mtime (its last write,
    just before the rename) -> the step_start of the step doit ran next for that TaskSpec
    (summary after factory, taskspec or the next factory after qa). Millisecond audit stamps:
    a real build's reaction, the step's own ending and doit's scheduling included."""
    starts: dict[str, list[tuple[float, str, int]]] = defaultdict(list)
    for event in read_audit(layout.audit):
        if event.get("event") == "step_start":
            starts[str(event["taskspec_id"])].append(
                (_ts(event["ts"]), str(event["step"]), int(event.get("attempt") or 0))
            )
    gaps: list[float] = []
    for tid, events in starts.items():
        for _, step, attempt in events:
            if step not in ("factory", "qa"):
                continue
            path = layout.stop_file(tid, step, attempt)  # type: ignore[arg-type]
            stop = try_load(path, StopRecord)
            if stop is None or stop.source != "hook":
                continue
            at = path.stat().st_mtime
            following = [ts for ts, _, _ in events if ts >= at]
            if following:
                gaps.append(min(following) - at)
    return gaps


def audit_summary(root: Path) -> dict[str, Any]:
    layout = Layout(root)
    return {
        "step_seconds": {k: sorted(v) for k, v in step_durations(layout).items()},
        "stop_to_next_step_seconds": sorted(stop_to_next_step(layout)),
    }
