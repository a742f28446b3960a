"""Token usage, turns and model from a Claude Code transcript (JSON lines), for the `.stop`
record. Standard library only: the stop hook (stop_hook.py) imports it at a stop whose payload
names a transcript."""

from __future__ import annotations

import json
import os

# Not typing.TYPE_CHECKING: importing typing costs the stop hook's Python 3 ms at every stop.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TRANSCRIPT_LIMIT = 64 * 1024 * 1024


def transcript_usage(path: str) -> dict[str, Any]:
    """Token usage, turns and model summed from a Claude Code transcript (JSON lines); {} when
    it cannot be read. Streaming writes one line per content block, so usage counts per message."""
    try:
        if os.stat(path).st_size > TRANSCRIPT_LIMIT:
            return {}
        # split("\n"), not splitlines(): JSON strings may hold U+2028, U+2029 and U+0085 raw
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().split("\n")
    except OSError:
        return {}
    per_message: dict[str, dict[str, Any]] = {}
    model = ""
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("message") if isinstance(entry, dict) else None
        if entry.get("type") != "assistant" or not isinstance(message, dict):
            continue
        usage = message.get("usage")
        if isinstance(usage, dict):
            per_message[str(message.get("id") or len(per_message))] = usage
        model = str(message.get("model") or model)
    keys = (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    )
    totals = {k: sum(int(u.get(k) or 0) for u in per_message.values()) for k in keys}
    if not per_message:
        return {}
    return {"usage": totals, "num_turns": len(per_message), "model": model}
