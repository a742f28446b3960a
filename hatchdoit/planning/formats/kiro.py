"""Kiro plans: `.kiro/specs/<feature>/tasks.md` (with requirements.md and design.md beside it),
a feature per folder. Tasks `- [ ] 1. Title`, sub-tasks `- [ ] 1.1 Title` (indented or
flush-left: the number says whose), detail bullets indented below; `_Requirements: 1.1, 2.3_`
names acceptance criteria of requirements.md; `- [ ]* 1.3` (or `- [ ]\\* 1.3`, the star escaped
as Kiro writes it) is an optional task; status `[ ]`, `[x]` done, `[-]` in progress, `[~]`
queued. The cc-sdd variant adds `_Depends: 1.2_` and a ` (P)` marker (after the number or at
the end of the title): may run beside the one before."""

from __future__ import annotations

import re
from pathlib import Path

from hatchdoit.core.errors import SpecError
from hatchdoit.planning.formats.kiro_requirements import Requirement, criteria_of
from hatchdoit.planning.formats.kiro_requirements import read_requirements as read_reqs
from hatchdoit.planning.formats.markdown import CHECKBOX, fence_flags, item_extent, split_item
from hatchdoit.planning.formats.paths import named_paths
from hatchdoit.planning.formats.source import (
    Dependency,
    SourceFeature,
    SourcePlan,
    SourceTask,
    Status,
    Wanted,
    at,
    read_text,
)

SPECS = Path(".kiro") / "specs"
# `- [ ]* 1.3` optional; real files escape the star (`- [ ]\* 1.3`), which Markdown shows as `*`
TASK = re.compile(r"^\s*[-*+]\s+\[([ xX~-])\]\s*(\\?\*)?\s*(\d+(?:\.\d+)*)\.?\s+(.*)$")
PARALLEL = re.compile(r"^\(P\)\s*|\s*\(P\)\s*$")
FIELD = re.compile(r"^\s*[-*+]?\s*_(Requirements|Depends)\s*:\s*(.*?)_?\s*$", re.IGNORECASE)
STATUSES: dict[str, tuple[Status, str]] = {
    " ": ("todo", ""),
    "x": ("done", "[x]"),
    "X": ("done", "[X]"),
    "-": ("active", "[-]"),
    "~": ("todo", "[~] queued"),
}


def read_plan(root: Path, wanted: Wanted) -> SourcePlan:
    plan = SourcePlan("kiro")
    paths = sorted((root / SPECS).glob("*/tasks.md"))
    if not paths:
        plan.errors.append(
            SpecError(
                "no Kiro spec: no .kiro/specs/<feature>/tasks.md",
                path=root / SPECS,
                fix="point specs at a repo with Kiro specs, or set planning.format to its format",
            )
        )
    for path in paths:
        plan.names.append(path.parent.name)
        if wanted(path.parent.name):
            feature = _feature(path, root, plan)
            if feature is not None:
                plan.features.append(feature)
    return plan


def _feature(path: Path, root: Path, plan: SourcePlan) -> SourceFeature | None:
    folder = path.parent
    try:
        text = read_text(path)
        reqs = folder / "requirements.md"
        requirements = read_reqs(read_text(reqs)) if reqs.is_file() else {}
    except SpecError as exc:
        plan.errors.append(exc)
        return None
    where = folder.relative_to(root).as_posix()
    feature = SourceFeature(
        name=folder.name,
        title=f"Kiro spec {folder.name}",
        path=path,
        body=f"Kiro spec {folder.name}: {where}/ (requirements.md, design.md, tasks.md)",
        order="numbered",
    )
    lines = text.splitlines()
    fenced = fence_flags(lines)
    index = 0
    while index < len(lines):
        match = None if fenced[index] else TASK.match(lines[index])
        if match is None:
            if not fenced[index] and CHECKBOX.match(lines[index]):
                plan.warnings.append(
                    SpecError(
                        "a checkbox without a task number: not read",
                        path=at(path, index + 1),
                        fix="write it as `- [ ] 1. Title` or `- [ ] 1.1 Title`",
                    )
                )
            index += 1
            continue
        end = item_extent(lines, index)
        feature.tasks.append(_task(lines, index, end, match, requirements, feature, plan))
        index = end
    return feature


def _task(
    lines: list[str],
    start: int,
    stop: int,
    match: re.Match[str],
    requirements: dict[int, Requirement],
    feature: SourceFeature,
    plan: SourcePlan,
) -> SourceTask:
    key = match.group(3)
    title, parallel = match.group(4), False
    while (marker := PARALLEL.search(title)) is not None and title:
        title, parallel = (title[: marker.start()] + title[marker.end() :]).strip(), True
    item = split_item(lines, start, stop, title)
    status, word = STATUSES[match.group(1)]
    task = SourceTask(
        key=key,
        title=item.title or key,
        line=item.line,
        parent=key.rpartition(".")[0] or None,
        parallel=parallel,
        status=status,
        status_word=word,
        optional=bool(match.group(2)),
    )
    refs: list[str] = []
    for offset, line in enumerate(item.details.splitlines()):
        found = FIELD.match(line)
        if found is not None and found.group(1).lower() == "depends":
            line_number = item.details_line + offset
            task.depends += [Dependency(d, line_number) for d in _refs(found.group(2))]
        elif found is not None:
            refs += _refs(found.group(2))
    task.text = item.details
    task.files = named_paths(task.title, task.text)
    stories: dict[int, str] = {}
    for ref in refs:
        criteria = criteria_of(ref, requirements)
        if criteria is None and re.fullmatch(r"\d+(?:\.\d+)?", ref):
            plan.warnings.append(
                SpecError(
                    f"refers to requirement {ref}, which requirements.md has no criterion of",
                    path=at(feature.path, item.line),
                    field=key,
                    fix="name a `### Requirement N` and a numbered acceptance criterion of it",
                )
            )
        elif criteria is None:
            task.acceptance.append(f"Requirements: {ref}")
        else:
            task.acceptance += criteria
            number = int(ref.split(".")[0])
            stories.setdefault(number, requirements[number].story)
    task.context = "\n\n".join(
        f"## Requirement {n} (requirements.md)\n\nUser story: {story}"
        for n, story in stories.items()
        if story
    )
    return task


def _refs(text: str) -> list[str]:
    """`1.1, 2.3` or `1.1 and 2`: the references, each stripped of its trailing dot."""
    parts = re.split(r"\s*(?:,|;|\band\b)\s*", text.strip())
    return [part.rstrip(".") for part in parts if part.strip(" .")]
