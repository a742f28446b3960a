"""Token usage, turns and model from a Claude Code transcript (JSON lines), for the `.stop`
record and for the spend of a run while it goes (provider_runs/budgets.py). The file is read as a
stream, line by line, from the offset already read (`JsonLineTail`): a transcript of any size
counts, and a live read costs only what was appended since the last. Standard library only: the
stop hook (stop_hook.py) imports it at a stop whose payload names a transcript."""

from __future__ import annotations

import json
import os

# Not typing.TYPE_CHECKING: importing typing costs the stop hook's Python 3 ms at every stop.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
HOUR_WRITES = "cache_creation_1h_input_tokens"  # of cache_creation_input_tokens: kept an hour


class JsonLineTail:
    """The JSON objects appended to a file since the last `new()`, one per line ending in
    "\\n" (only "\\n": JSON strings may hold U+2028, U+2029 and U+0085 raw). A last line without
    its "\\n" is taken once it parses (a file that ends there), else left for the next read.
    `needles`: lines holding none of them are skipped unparsed (a transcript's tool output is
    most of it). A file that shrank was replaced: it is read again from the start (`restarted`
    says so)."""

    def __init__(self, path: str | os.PathLike[str], needles: tuple[bytes, ...] = ()) -> None:
        self.path = path
        self.needles = needles
        self.offset = 0
        self.restarted = False

    def new(self) -> list[dict[str, Any]]:
        self.restarted = False
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - a with block just below
        except OSError:
            return []
        found = []
        with handle:
            if os.fstat(handle.fileno()).st_size < self.offset:
                self.offset, self.restarted = 0, True
            handle.seek(self.offset)
            for line in handle:
                value = self._parse(line)
                if not line.endswith(b"\n") and value is None:
                    break  # being written: read it whole next time
                self.offset += len(line)
                if value is not None:
                    found.append(value)
        return found

    def _parse(self, line: bytes) -> dict[str, Any] | None:
        if self.needles and not any(needle in line for needle in self.needles):
            return None
        try:
            value = json.loads(line.decode("utf-8", errors="replace"))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class TranscriptTally:
    """A transcript's usage so far, per message (streaming writes a line per content block,
    each with the message's usage so far: the last one counts) and per model."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.tail = JsonLineTail(path, (b'"usage"',))
        self.messages: dict[str, tuple[str, dict[str, int]]] = {}
        self.model = ""

    def read(self) -> dict[str, Any]:
        """What `transcript_usage` returns, after reading what was appended since."""
        entries = self.tail.new()
        if self.tail.restarted:
            self.messages, self.model = {}, ""
        for entry in entries:
            message = entry.get("message")
            if entry.get("type") != "assistant" or not isinstance(message, dict):
                continue
            usage = message.get("usage")
            model = str(message.get("model") or self.model)
            if isinstance(usage, dict):
                key = str(message.get("id") or f"#{len(self.messages)}")
                self.messages[key] = (model, _counts(usage))
            self.model = model
        return self.summary()

    def summary(self) -> dict[str, Any]:
        if not self.messages:
            return {}
        by_model: dict[str, dict[str, int]] = {}
        for model, counts in self.messages.values():
            into = by_model.setdefault(model, {})
            for key, value in counts.items():
                into[key] = into.get(key, 0) + value
        totals: dict[str, int] = {}
        for counts in by_model.values():
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
        found: dict[str, Any] = {
            "usage": totals,
            "num_turns": len(self.messages),
            "model": self.model,
        }
        if len(by_model) > 1:  # priced model by model (providers/spend.py)
            found["usage_by_model"] = by_model
        return found


def _counts(usage: dict[str, Any]) -> dict[str, int]:
    counts = {k: int(usage.get(k) or 0) for k in USAGE_KEYS}
    split = usage.get("cache_creation")
    if isinstance(split, dict):
        counts[HOUR_WRITES] = int(split.get("ephemeral_1h_input_tokens") or 0)
    return counts


def transcript_usage(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Token usage, turns and model summed from a Claude Code transcript (JSON lines); {} when
    it cannot be read or names no usage."""
    return TranscriptTally(path).read()
