"""The file paths a task's text names (`Create the model in src/models/album.py`): the files to
touch its prompt lists. Text inside fenced code blocks is left out (it is code, not a plan)."""

from __future__ import annotations

import re

# A path: segments of letters, digits, '_', '.', '-' joined by '/', ending in a name with an
# extension or in '/' (a folder); or a bare file name with an extension. What follows it must
# end the word and what precedes it must not continue one, so `/api/users/{id}` and
# URLs name no file.
_PATH = re.compile(
    r"(?<![\w./:{-])"
    r"((?:[\w.-]+/)+(?:[\w-][\w.-]*\.[A-Za-z]\w{0,9}|)|[\w-]{2,}(?:\.[\w-]+)*\.[A-Za-z]\w{0,9})"
    r"(?=$|[\s,;:)\]'\"`*]|\.(?:\s|$))"
)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_NOT_FILES = {"e.g", "i.e", "etc", "vs"}


def named_paths(*texts: str) -> list[str]:
    """The paths the texts name, each once, in order of appearance."""
    found: dict[str, None] = {}
    for text in texts:
        for line in _prose_lines(text):
            for match in _PATH.finditer(line):
                path = match.group(1)
                if path.lower() not in _NOT_FILES and path not in ("./", "../"):
                    found.setdefault(path, None)
    return list(found)


def _prose_lines(text: str) -> list[str]:
    lines, fence = [], ""
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        lines.append(line)
    return lines
