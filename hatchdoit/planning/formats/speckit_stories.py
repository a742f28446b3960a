"""A spec-kit `spec.md`'s user stories (`### User Story 2 - Title (Priority: P2)`): the
section's text, its `**Independent Test**:` and its numbered `**Acceptance Scenarios**:`
(Given/When/Then), which a `[US2]` task of tasks.md gets as context and acceptance criteria."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hatchdoit.planning.formats.markdown import fence_flags

STORY = re.compile(r"^#{2,4}\s+User Story\s+(\d+)\b\s*[-\u2013\u2014:]?\s*(.*?)\s*$", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s")
# `**Independent Test**: text` (or `**Goal:** text`); the colon tells it from `**Given** x`
LABEL = re.compile(r"^ {0,3}\*\*([^*:]+?)(?::\*\*|\*\*\s*:)\s*(.*)$")
NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")


@dataclass
class Story:
    number: int
    title: str
    text: str  # the whole section, its heading first
    independent_test: str = ""
    scenarios: list[str] = field(default_factory=list)


def read_stories(text: str) -> dict[int, Story]:
    """The user stories of a spec.md, by number (the first of a number given twice)."""
    lines = text.splitlines()
    fenced = fence_flags(lines)
    stories: dict[int, Story] = {}
    index = 0
    while index < len(lines):
        match = None if fenced[index] else STORY.match(lines[index])
        if match is None:
            index += 1
            continue
        level = len(HEADING.match(lines[index]).group(1))  # type: ignore[union-attr]
        end = index + 1
        while end < len(lines) and not _ends_section(lines[end], fenced[end], level):
            end += 1
        section = lines[index:end]
        story = Story(int(match.group(1)), match.group(2), "\n".join(section).strip())
        _read_labels(section, story)
        stories.setdefault(story.number, story)
        index = end
    return stories


def _ends_section(line: str, fenced: bool, level: int) -> bool:
    if fenced:
        return False
    heading = HEADING.match(line)
    return bool(heading and len(heading.group(1)) <= level) or line.strip() == "---"


def _read_labels(section: list[str], story: Story) -> None:
    label = ""
    for line in section[1:]:
        found = LABEL.match(line)
        if found:
            label = found.group(1).strip().lower()
            if label == "independent test" and found.group(2).strip():
                story.independent_test = found.group(2).strip()
            continue
        if not line.strip() and label == "independent test":
            label = ""  # its text ends at the paragraph's end
        elif label == "acceptance scenarios":
            numbered = NUMBERED.match(line)
            if numbered:
                story.scenarios.append(_plain(numbered.group(1)))
            elif line.strip() and story.scenarios and line[:1].isspace():
                story.scenarios[-1] += " " + _plain(line.strip())  # a wrapped scenario
        elif label == "independent test" and story.independent_test:
            story.independent_test += " " + line.strip()


def _plain(text: str) -> str:
    """A scenario without its Markdown emphasis: `**Given** x` is `Given x`."""
    return re.sub(r"\*\*([^*]+)\*\*", r"\1", text).strip()
