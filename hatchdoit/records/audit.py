"""`_logs/audit.jsonl`: append-only, one event per step start/end, launch, stop, verdict."""

from __future__ import annotations

import json

from hatchdoit.core.atomicio import append_line
from hatchdoit.core.clock import now_iso
from hatchdoit.core.jsonlines import read_json_lines

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
    return read_json_lines(path)
