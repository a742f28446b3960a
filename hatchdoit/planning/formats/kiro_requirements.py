"""A Kiro `requirements.md`: `### Requirement N` (perhaps `: Title`), its user story, and its
`#### Acceptance Criteria` numbered lines; criterion 2 of requirement 1 is `1.2`, the reference
a task's `_Requirements: 1.2, 2_` makes (a bare `2`: every criterion of requirement 2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hatchdoit.planning.formats.markdown import fence_flags

REQUIREMENT = re.compile(r"^#{2,4}\s+Requirement\s+(\d+)\b\s*[:.\-]?\s*(.*?)\s*$", re.IGNORECASE)
CRITERIA = re.compile(r"^#{2,5}\s+Acceptance Criteria\b", re.IGNORECASE)
HEADING = re.compile(r"^#{1,6}\s")
NUMBERED = re.compile(r"^\s*(\d+)[.)]\s+(.*)$")
STORY = re.compile(r"^\s*\*\*(?:User Story|Objective)\s*:?\*\*\s*:?\s*(.*)$", re.IGNORECASE)


@dataclass
class Requirement:
    number: int
    title: str
    story: str = ""
    criteria: dict[int, str] = field(default_factory=dict)


def read_requirements(text: str) -> dict[int, Requirement]:
    """The requirements by number (the first of a number given twice)."""
    found: dict[int, Requirement] = {}
    current: Requirement | None = None
    in_criteria = False
    last: int | None = None
    lines = text.splitlines()
    for line, fenced in zip(lines, fence_flags(lines), strict=True):
        if fenced:
            continue
        heading = REQUIREMENT.match(line)
        if heading is not None:
            current = Requirement(int(heading.group(1)), heading.group(2))
            found.setdefault(current.number, current)
            in_criteria, last = False, None
            continue
        if current is None:
            continue
        if CRITERIA.match(line):
            in_criteria, last = True, None
        elif HEADING.match(line):
            in_criteria = False
        elif (story := STORY.match(line)) is not None:
            current.story = story.group(1).strip()
        elif in_criteria and (numbered := NUMBERED.match(line)) is not None:
            last = int(numbered.group(1))
            current.criteria.setdefault(last, numbered.group(2).strip())
        elif in_criteria and last is not None and line.strip() and line[:1].isspace():
            current.criteria[last] += " " + line.strip()  # a wrapped criterion
    return found


def criteria_of(ref: str, requirements: dict[int, Requirement]) -> list[str] | None:
    """The criteria a reference names (`1.2`, or `2` for all of requirement 2), each prefixed
    with its number; None if requirements.md has no such requirement or criterion."""
    parts = ref.split(".")
    if not all(part.isdigit() for part in parts) or len(parts) > 2:
        return None
    requirement = requirements.get(int(parts[0]))
    if requirement is None:
        return None
    if len(parts) == 1:
        items = sorted(requirement.criteria.items())
        return [f"Requirement {requirement.number}.{n}: {text}" for n, text in items] or None
    text = requirement.criteria.get(int(parts[1]))
    return None if text is None else [f"Requirement {ref}: {text}"]
