"""Task Master plans: `.taskmaster/tasks/tasks.json` (legacy: `tasks/tasks.json`), tagged
(`{"<tag>": {"tasks": [...], "metadata": {...}}}`, the active tag in `.taskmaster/state.json`'s
`currentTag`, default `master`) or legacy (`{"tasks": [...]}`, read as tag `master`); a feature
per tag, the active one first.

A task: `id` (a number, or a string), `title`, `description`, `details`, `testStrategy`,
`status`, `dependencies`, `priority`, `subtasks`, and perhaps `relevantFiles` ([{path,
action}]) and `acceptanceCriteria`. A subtask's id is local: its full id is `<parent>.<sub>`;
in its `dependencies` a bare number (or a string without a dot) is a sibling, `"3.1"` a full id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hatchdoit.core.errors import SpecError
from hatchdoit.planning.formats.jsonlines import LINE, line_of, load_with_lines
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

FILES = (".taskmaster/tasks/tasks.json", "tasks/tasks.json")
STATE_FILE = ".taskmaster/state.json"
DEFAULT_TAG = "master"
STATUSES: dict[str, Status] = {
    "pending": "todo",
    "in-progress": "active",
    "review": "active",
    "blocked": "todo",
    "done": "done",
    "completed": "done",
    "cancelled": "skipped",
    "deferred": "skipped",
}


def read_plan(root: Path, wanted: Wanted) -> SourcePlan:
    plan = SourcePlan("taskmaster")
    path = next((root / name for name in FILES if (root / name).is_file()), root / FILES[0])
    try:
        text = read_text(path)
    except SpecError as exc:
        plan.errors.append(exc)
        return plan
    try:
        data = load_with_lines(text)
    except json.JSONDecodeError as exc:
        plan.errors.append(
            SpecError(
                f"not valid JSON: {exc.msg} (column {exc.colno})",
                path=at(path, exc.lineno),
                fix="fix the JSON syntax (Task Master reads it the same way)",
            )
        )
        return plan
    tags = _tags(data, path, plan)
    current = _current_tag(root)
    for name in sorted(tags, key=lambda tag: tag != current):  # the active tag first
        plan.names.append(name)
        if wanted(name):
            plan.features.append(_feature(name, tags[name], path, plan, current))
    return plan


def _tags(data: Any, path: Path, plan: SourcePlan) -> dict[str, dict[str, Any]]:
    """The tags of a tasks.json, a legacy one's tasks as tag `master`."""
    if not isinstance(data, dict):
        plan.errors.append(
            SpecError(
                "is not a JSON object of tags (or of `tasks`)",
                path=path,
                fix='write {"master": {"tasks": [...]}} or {"tasks": [...]}',
            )
        )
        return {}
    if isinstance(data.get("tasks"), list):
        return {DEFAULT_TAG: data}
    tags = {}
    for name, value in data.items():
        if name == LINE:
            continue
        if isinstance(value, dict) and isinstance(value.get("tasks"), list):
            tags[name] = value
        else:
            plan.warnings.append(
                SpecError(
                    f"{name!r} is not a tag (an object with a `tasks` list): ignored",
                    path=at(path, line_of(value, line_of(data))),
                    fix='make it {"tasks": [...]} or remove it',
                )
            )
    return tags


def _current_tag(root: Path) -> str:
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_TAG
    tag = state.get("currentTag") if isinstance(state, dict) else None
    return tag if isinstance(tag, str) and tag else DEFAULT_TAG


def _feature(
    name: str, tag: dict[str, Any], path: Path, plan: SourcePlan, current: str
) -> SourceFeature:
    metadata = tag.get("metadata") if isinstance(tag.get("metadata"), dict) else {}
    description = str(metadata.get("description") or "") if metadata else ""
    active = " (the active tag)" if name == current else ""
    feature = SourceFeature(
        name=name,
        title=description or f"Task Master tag {name}",
        path=path,
        body=f"Task Master tag {name}{active} of {path.name}.\n\n{description}".strip(),
        order="none",
    )
    for raw in tag["tasks"]:
        task = _task(raw, None, path, plan, line_of(tag))
        if task is None:
            continue
        feature.tasks.append(task)
        subtasks = raw.get("subtasks") or []
        if not isinstance(subtasks, list):
            plan.errors.append(_bad(raw, path, "subtasks", "is not a list"))
            continue
        for sub in subtasks:
            child = _task(sub, task.key, path, plan, task.line)
            if child is not None:
                feature.tasks.append(child)
    return feature


def _task(
    raw: Any, parent: str | None, path: Path, plan: SourcePlan, near: int
) -> SourceTask | None:
    """The task of one entry of a `tasks` (or `subtasks`) list; `near`: the list's object's line,
    where an entry that is no object is reported."""
    if not isinstance(raw, dict):
        plan.errors.append(
            SpecError(
                f"a task is {type(raw).__name__}, not an object",
                path=at(path, near),
                fix="write each task as an object with id and title",
            )
        )
        return None
    local = _id(raw.get("id"))
    if local is None:
        plan.errors.append(_bad(raw, path, "id", f"is {raw.get('id')!r}, not a task id"))
        return None
    key = local if parent is None or "." in local else f"{parent}.{local}"
    line = line_of(raw)
    description, details = _text(raw.get("description")), _text(raw.get("details"))
    task = SourceTask(
        key=key,
        title=_text(raw.get("title")) or description.split("\n", 1)[0] or key,
        line=line,
        text="\n\n".join(part for part in (description, details) if part),
        parent=parent,
    )
    word = _text(raw.get("status")) or "pending"
    status = STATUSES.get(word.lower())
    if status is None:
        known = ", ".join(STATUSES)
        plan.warnings.append(
            _bad(raw, path, "status", f"{word!r} is no Task Master status: built", known)
        )
        status = "todo"
    task.status, task.status_word = status, f"status: {word}"
    deps = raw.get("dependencies") or []
    for dep in deps if isinstance(deps, list) else [deps]:
        ident = _id(dep)
        if ident is None:
            plan.errors.append(_bad(raw, path, "dependencies", f"{dep!r} is not a task id"))
            continue
        sibling = parent is not None and "." not in ident
        task.depends.append(Dependency(f"{parent}.{ident}" if sibling else ident, line))
    strategy = _text(raw.get("testStrategy"))
    task.acceptance = [f"Test strategy: {strategy}"] if strategy else []
    criteria = raw.get("acceptanceCriteria") or []
    task.acceptance += [_text(c) for c in (criteria if isinstance(criteria, list) else [criteria])]
    task.files = [*_relevant_files(raw.get("relevantFiles")), *named_paths(task.title, task.text)]
    task.files = list(dict.fromkeys(task.files))
    return task


def _id(value: Any) -> str | None:
    """A task id as text: a whole number, or a string of letters, digits and dots."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    ok = isinstance(value, int | str) and text and text.replace(".", "").replace("-", "").isalnum()
    return text if ok else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != LINE}
    return value.strip() if isinstance(value, str) else json.dumps(value)


def _relevant_files(value: Any) -> list[str]:
    found = []
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            action = entry.get("action")
            found.append(entry["path"] + (f" ({action})" if isinstance(action, str) else ""))
        elif isinstance(entry, str):
            found.append(entry)
    return found


def _bad(raw: Any, path: Path, field: str, message: str, known: str = "") -> SpecError:
    title = raw.get("title") if isinstance(raw, dict) else None
    return SpecError(
        message + (f" (task {title!r})" if isinstance(title, str) else ""),
        path=at(path, line_of(raw)),
        field=field,
        fix=f"use one of: {known}" if known else "correct it in tasks.json",
    )
