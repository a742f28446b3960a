"""`_logs/audit.jsonl`: append-only, one event per step start/end, launch, stop, verdict."""

from __future__ import annotations

import json

from hatchdoit.core.atomicio import append_line
from hatchdoit.core.clock import now_iso

# Not typing.TYPE_CHECKING: importing typing costs the stop hook's Python 3 ms at every stop.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hatchdoit.core.atomicio import StrPath


def audit(path: StrPath, event: str, taskspec_id: str, /, **fields: Any) -> None:
    """Append one audit event."""
    entry = {"ts": now_iso(), "event": event, "taskspec_id": taskspec_id, **fields}
    append_line(path, json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str))


def read_audit(path: StrPath) -> list[dict[str, Any]]:
    """All parsable audit events (a torn last line after a crash is skipped)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    events = []
    # split at "\n" only: str.splitlines() also breaks at U+2028, U+2029 and U+0085, which a
    # JSON string written with ensure_ascii=False may hold raw (an agent's message, a reason)
    for line in text.split("\n"):
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events
