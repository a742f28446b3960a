"""JSON read with the line each object starts on (the standard library's decoder, with its
pure-Python scanner told to note where every object begins), so that a problem in a tasks.json
names its line as one in a Markdown plan does."""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
from typing import Any

LINE = "\x00line"  # the key each decoded object gets: no JSON text writes a NUL in a key


class _LineDecoder(json.JSONDecoder):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.newlines = [i for i, char in enumerate(text) if char == "\n"]
        self.parse_object = self._object
        # The pure-Python scanner calls self.parse_object; the C one would not. Both are the
        # standard library's, not in its type stubs.
        self.scan_once = json.scanner.py_make_scanner(self)  # type: ignore[attr-defined]

    def _object(self, s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        found, end = json.decoder.JSONObject(s_and_end, *args)  # type: ignore[attr-defined]
        if isinstance(found, dict):
            found[LINE] = bisect.bisect_left(self.newlines, s_and_end[1]) + 1
        return found, end


def load_with_lines(text: str) -> Any:
    """`json.loads(text)`, each object with its first line under LINE; raises
    json.JSONDecodeError (with its lineno) as json.loads does."""
    return _LineDecoder(text).decode(text)


def line_of(obj: object, default: int = 1) -> int:
    if isinstance(obj, dict):
        value = obj.get(LINE, default)
        return value if isinstance(value, int) else default
    return default
