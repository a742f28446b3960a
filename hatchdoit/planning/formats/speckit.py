"""GitHub spec-kit plans: `specs/<NNN-name>/tasks.md` (with spec.md and plan.md beside it), a
feature per folder. Task lines `- [ ] T001 [P] [US1] Description with a file path`; ids `T` and
3 or more digits, perhaps a letter (`T002a`); `[x]` or `[X]` done; leading spaces; descriptions
wrapped onto indented lines, details indented below. Phases are `## Phase N: ...` headings (or
any `##` heading); a story phase's `**Goal**:` and `**Independent Test**:`, and `[USn]`'s story
in spec.md, are the task's context and acceptance criteria. Dependencies in prose: `(depends on
T012, T013)` in a task, or a line `- T008 blocks T009, T015` (ranges `T004-T007` too)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hatchdoit.core.errors import SpecError
from hatchdoit.planning.formats.markdown import fence_flags, item_extent, split_item
from hatchdoit.planning.formats.paths import named_paths
from hatchdoit.planning.formats.source import (
    Dependency,
    SourceFeature,
    SourcePlan,
    SourceTask,
    Wanted,
    at,
    read_text,
)
from hatchdoit.planning.formats.speckit_stories import LABEL, Story, read_stories

TASK = re.compile(
    r"^(\s*)[-*+]\s+\[([ xX])\]\s+(?:\*\*)?(T\d{3,}[A-Za-z]?)\b(?:\*\*)?[:.]?\s*(.*)$"
)
MARKER = re.compile(r"^\[(P|US\d+)\]\s*", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
PHASE = re.compile(r"^phase\b", re.IGNORECASE)
STORY_IN_HEADING = re.compile(r"\bUser Story\s+(\d+)\b", re.IGNORECASE)
_ID = r"T\d{3,}[A-Za-z]?"
IDS = rf"{_ID}(?:\s*(?:,|/|&|\band\b|\bor\b|-|\u2013|\u2014|\bto\b|\bthrough\b)\s*{_ID})*"
INLINE = re.compile(rf"\b(?:depends?\s+on|blocked\s+by)\s*:?\s*({IDS})", re.IGNORECASE)
BLOCKS = re.compile(
    rf"^\s*[-*+]\s+(?:\*\*)?({IDS})(?:\*\*)?(?:\s*\([^)]*\))?\s+"
    rf"(blocks?|depends?\s+on)\s+({IDS})",
    re.IGNORECASE,
)
# A checkbox with what looks like a task id that TASK does not take (`T01`, `[-]`, `[ ]T001`)
ALMOST = re.compile(r"^\s*[-*+]\s*\[[^\]]{0,2}\]\s*\**T\d", re.IGNORECASE)
RANGE = re.compile(rf"({_ID})\s*(?:-|\u2013|\u2014|\bto\b|\bthrough\b)\s*({_ID})", re.IGNORECASE)


def read_plan(root: Path, wanted: Wanted) -> SourcePlan:
    """Every `specs/<feature>/tasks.md` of the repo at `root`, in folder order."""
    plan = SourcePlan("spec-kit")
    specs = root / "specs"
    folders = sorted(specs.glob("*/tasks.md"))
    if not folders:
        plan.errors.append(
            SpecError(
                "no spec-kit feature: no specs/<feature>/tasks.md",
                path=specs,
                fix="point specs at a spec-kit repo, or set planning.format to its format",
            )
        )
    for folder in (path.parent for path in folders):
        plan.names.append(folder.name)
        if wanted(folder.name):
            feature = read_feature(folder, plan)
            if feature is not None:
                plan.features.append(feature)
    return plan


@dataclass
class _Phase:
    title: str
    goal: str = ""
    independent_test: str = ""
    story: int | None = None


# Dependencies stated apart from the tasks: (dependent ids, their dependencies, line)
_Links = list[tuple[list[str], list[str], int]]


def read_feature(folder: Path, plan: SourcePlan) -> SourceFeature | None:
    path = folder / "tasks.md"
    try:
        text = read_text(path)
        spec_text = read_text(folder / "spec.md") if (folder / "spec.md").is_file() else ""
    except SpecError as exc:
        plan.errors.append(exc)
        return None
    stories = read_stories(spec_text)
    feature = SourceFeature(
        name=folder.name,
        title=_title(spec_text, text) or folder.name,
        path=path,
        body=f"spec-kit feature {folder.name}: specs/{folder.name}/ (spec.md, plan.md, tasks.md)",
        order="phases",
    )
    lines = text.splitlines()
    fenced = fence_flags(lines)
    phases: list[_Phase] = [_Phase("")]
    links: _Links = []
    index = 0
    while index < len(lines):
        line = lines[index]
        task = None if fenced[index] else TASK.match(line)
        if task is not None:
            end = item_extent(lines, index)
            feature.tasks.append(_task(lines, index, end, task, len(phases) - 1, phases, stories))
            index = end
            continue
        if not fenced[index] and ALMOST.match(line):
            plan.warnings.append(_not_a_task(path, index + 1))
        elif not fenced[index]:
            _read_line(line, index + 1, phases, links)
        index += 1
    _add_links(feature, links, plan)
    return feature


def _read_line(line: str, number: int, phases: list[_Phase], links: _Links) -> None:
    """A line outside tasks: a phase heading, a phase's label, or a `T008 blocks T009` line."""
    heading = HEADING.match(line)
    if heading is not None:
        title = heading.group(2)
        if len(heading.group(1)) == 2 or PHASE.match(title):
            story = STORY_IN_HEADING.search(title)
            phases.append(_Phase(title, story=int(story.group(1)) if story else None))
        return
    label = LABEL.match(line)
    if label is not None:
        name, value = label.group(1).strip().lower(), label.group(2).strip()
        if name == "goal":
            phases[-1].goal = value
        elif name == "independent test":
            phases[-1].independent_test = value
        return
    blocks = BLOCKS.match(line)
    if blocks is not None:
        left, verb, right = _ids(blocks.group(1)), blocks.group(2).lower(), _ids(blocks.group(3))
        if verb.startswith("block"):
            links.append((right, left, number))
        else:
            links.append((left, right, number))


def _task(
    lines: list[str],
    start: int,
    stop: int,
    match: re.Match[str],
    phase_index: int,
    phases: list[_Phase],
    stories: dict[int, Story],
) -> SourceTask:
    rest, parallel, story = match.group(4), False, None
    while (marker := MARKER.match(rest)) is not None:
        label = marker.group(1).upper()
        if label == "P":
            parallel = True
        else:
            story = story or int(label[2:])
        rest = rest[marker.end() :]
    item = split_item(lines, start, stop, rest)
    phase = phases[phase_index]
    story = story or phase.story
    found = stories.get(story) if story is not None else None
    task = SourceTask(
        key=match.group(3),
        title=item.title or match.group(3),
        line=item.line,
        text=item.details,
        parallel=parallel,
        phase=phase_index,
        files=named_paths(item.title, item.details),
    )
    if match.group(2) in "xX":
        task.status, task.status_word = "done", f"[{match.group(2)}]"
    own = f"{item.title}\n{item.details}"
    for deps in INLINE.finditer(own):
        offset = own[: deps.start()].count("\n")
        task.depends += [Dependency(key, item.line + offset) for key in _ids(deps.group(1))]
    test = phase.independent_test or (found.independent_test if found else "")
    task.acceptance = [f"Independent test: {test}"] if test else []
    if found is not None:
        task.acceptance += found.scenarios
    task.context = _context(phase, found)
    return task


def _context(phase: _Phase, story: Story | None) -> str:
    parts = []
    if phase.title:
        goal = f"\n\nGoal: {phase.goal}" if phase.goal else ""
        parts.append(f"## {phase.title}{goal}")
    if story is not None:
        parts.append(f"## From spec.md: user story {story.number}\n\n{story.text}")
    return "\n\n".join(parts)


def _ids(text: str) -> list[str]:
    """The ids of an id list, a range `T004-T007` as its two ends joined by '..'."""
    found = []
    for part in re.split(r"\s*(?:,|/|&|\band\b|\bor\b)\s*", text.strip(), flags=re.IGNORECASE):
        ranged = RANGE.fullmatch(part)
        if ranged:
            found.append(f"{ranged.group(1)}..{ranged.group(2)}")
        elif part:
            found.append(part)
    return found


def _add_links(feature: SourceFeature, links: _Links, plan: SourcePlan) -> None:
    """Attach the `blocks`/`depends on` lines, and expand ranges to the tasks between their
    ends (by number: `T004-T007` is every task from T004 to T007, T005a too)."""
    by_key: dict[str, SourceTask] = {}
    for task in feature.tasks:
        by_key.setdefault(task.key, task)
    for task in feature.tasks:
        task.depends = [
            Dependency(key, dep.line) for dep in task.depends for key in _expand(dep.key, by_key)
        ]
    for dependents, dependencies, line in links:
        targets = [key for ids in dependents for key in _expand(ids, by_key)]
        for key in targets:
            if key not in by_key:
                plan.errors.append(
                    SpecError(
                        f"names {key}, which {feature.path.name} has no task of",
                        path=at(feature.path, line),
                        fix="name the id of a task of this feature, or remove the line",
                    )
                )
                continue
            for ids in dependencies:
                by_key[key].depends += [Dependency(dep, line) for dep in _expand(ids, by_key)]


def _expand(ids: str, by_key: dict[str, SourceTask]) -> list[str]:
    if ".." not in ids:
        return [ids]
    low, high = (_number(end) for end in ids.split(".."))
    return [key for key in by_key if low <= _number(key) <= high]


def _number(key: str) -> int:
    return int(re.sub(r"\D", "", key) or 0)


def _title(spec: str, tasks: str) -> str:
    for text, prefix in ((spec, "Feature Specification:"), (tasks, "Tasks:")):
        for line in text.splitlines():
            if line.startswith("# "):
                return line[2:].strip().removeprefix(prefix).strip()
    return ""


def _not_a_task(path: Path, line: int) -> SpecError:
    return SpecError(
        "looks like a task line but is not one: not read",
        path=at(path, line),
        fix="write it as `- [ ] T001 Description` (`[x]` when done): T and 3 or more digits",
    )
