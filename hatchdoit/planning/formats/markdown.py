"""What the Markdown plan readers (spec-kit, Kiro) share: a checkbox item with the lines that
belong to it (its wrapped title and its indented details), and fenced code blocks, inside which
nothing is read as part of the plan."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
CHECKBOX = re.compile(r"^\s*[-*+]\s+\[[^\]]?\]")


@dataclass
class Item:
    """A checkbox line and what belongs to it: the title with its wrapped lines, the details."""

    line: int  # 1-based
    title: str
    details: str
    details_line: int  # the line of the details' first line


def fence_flags(lines: list[str]) -> list[bool]:
    """For each line, whether it is inside (or opens or closes) a fenced code block."""
    flags, fence = [], ""
    for line in lines:
        opened = FENCE.match(line)
        if fence:
            flags.append(True)
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
        elif opened:
            flags.append(True)
            fence = opened.group(1)
        else:
            flags.append(False)
    return flags


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def item_extent(lines: list[str], start: int) -> int:
    """The index after the last line of the checkbox item at `start`: the lines below it that
    are indented deeper, with blank lines and code blocks among them, up to the next checkbox."""
    base = indent_of(lines[start])
    last, fence = start, ""
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if fence:  # inside one of its code blocks, whatever the indent
            last = index
            opened = FENCE.match(line)
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if not line.strip():
            continue
        if indent_of(line) <= base or CHECKBOX.match(line):
            break
        last = index
        opened = FENCE.match(line)
        if opened:
            fence = opened.group(1)
    return last + 1


def split_item(lines: list[str], start: int, stop: int, first: str) -> Item:
    """The item of lines[start:stop] whose first line's text (after its markers) is `first`:
    continuation lines right below it that are no list item or code are its wrapped title."""
    title = [first.strip()]
    index = start + 1
    while index < stop:
        line = lines[index]
        if not line.strip() or LIST_ITEM.match(line) or FENCE.match(line):
            break
        title.append(line.strip())
        index += 1
    while index < stop and not lines[index].strip():
        index += 1
    details = textwrap.dedent("\n".join(lines[index:stop])).rstrip("\n")
    return Item(start + 1, " ".join(title), details, index + 1)
