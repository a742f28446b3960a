"""`_logs/start_order.json`: each TaskSpec's rank in the build's start order (0 first), written
when a build starts (build/dispatch_order.py) and read by every step that waits for an agent
slot, so that a free slot goes to the highest-priority TaskSpec waiting."""

from __future__ import annotations

import json
from pathlib import Path

from hatchdoit.core.atomicio import write_json_atomic


def start_order_path(logs: Path) -> Path:
    return logs / "start_order.json"


def write_start_order(logs: Path, ranks: dict[str, int]) -> None:
    write_json_atomic(start_order_path(logs), {"ranks": ranks})


def clear_start_order(logs: Path) -> None:
    """No ranks (limits.start_order: plan): slots are first come first served."""
    start_order_path(logs).unlink(missing_ok=True)


def rank_of(logs: Path, tid: str) -> int | None:
    """The TaskSpec's rank in the running build's start order; None without one (a build that
    did not write it, an unreadable file: the slot is then first come first served)."""
    try:
        data = json.loads(start_order_path(logs).read_text(encoding="utf-8"))
        rank = data["ranks"][tid]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return rank if isinstance(rank, int) else None
