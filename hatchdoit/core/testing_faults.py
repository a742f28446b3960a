"""Fault injection for the reliability suite: named points where a test can make the build die.

`HATCHDOIT_FAULT=<point>[@<taskspec id>][#<n>]` makes the process SIGKILL itself the n-th time
(default 1st) it passes <point> (for that TaskSpec). Unset, a fault point is one dictionary
lookup. Points are listed in FAULT_POINTS so the suite can cover every one.
"""

from __future__ import annotations

import os
import signal

FAULT_POINTS = (
    "worktree.before_script",
    "worktree.before_receipt",
    "launch.before_tmux",
    "launch.after_tmux",
    "launch.after_prompt",
    "wait.started",
    "wait.after_stop",
    "factory.before_receipt",
    "summary.before_request",
    "summary.before_receipt",
    "checks.after_tests",
    "checks.before_receipt",
    "qa.after_stop",
    "qa.before_receipt",
    "finish.before_record",
    "integrate.after_merge",
    "integrate.before_update_ref",
    "integrate.after_update_ref",
    "integrate.before_receipt",
    "state.after_backup",
)
_counts: dict[str, int] = {}


def fault_point(name: str, taskspec_id: str | None = None) -> None:
    """Die here (SIGKILL, like a power cut) if HATCHDOIT_FAULT selects this point."""
    spec = os.environ.get("HATCHDOIT_FAULT")
    if not spec:
        return
    point, _, nth = spec.partition("#")
    point, _, only = point.partition("@")
    if point != name or (only and only != taskspec_id):
        return
    key = f"{name}@{taskspec_id}"
    _counts[key] = _counts.get(key, 0) + 1
    if _counts[key] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
