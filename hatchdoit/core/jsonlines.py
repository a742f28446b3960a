"""Reading a JSON-lines file that another process may be appending to (or that a crash left
with a torn last line): every whole line that holds a JSON object, in order. Standard library
only: the headless runner and the stop hook use it."""

from __future__ import annotations

import json
import os
import stat
from typing import Any


def read_json_lines(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The JSON objects of `path`, one per line; unreadable lines are skipped, a missing file is
    empty, and so is anything but a regular file (an agent's FIFO in its output directory must
    not hang the reader)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        with os.fdopen(os.dup(fd), "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    finally:
        os.close(fd)
    found = []
    # split at "\n" only: str.splitlines() also breaks at U+2028, U+2029 and U+0085, which a
    # JSON string written with ensure_ascii=False may hold raw (an agent's message, a reason)
    for line in text.split("\n"):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found
