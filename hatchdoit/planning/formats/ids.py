"""TaskSpec ids for the tasks of a foreign plan: the feature (or Task Master tag) and the task's
own id, `001-photo-albums-T006`, `master-3.2`, `user-auth-1.2`; and what a source id given twice
becomes (a suffix and a warning, never one task silently replacing another)."""

from __future__ import annotations

import re

from hatchdoit.core.errors import SpecError
from hatchdoit.planning.formats.source import SourceFeature, at
from hatchdoit.planning.specs import check_id

_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]+")


def feature_id(name: str) -> str:
    """A feature folder's or tag's name as the start of an id: characters an id cannot hold
    become '-', so `My Feature` is `My-Feature`."""
    cleaned = _NOT_ID.sub("-", name).strip("-.")
    return re.sub(r"\.{2,}", ".", cleaned)


def taskspec_id(feature: str, key: str) -> str:
    return f"{feature_id(feature)}-{key}"


def valid_id(value: str) -> bool:
    try:
        check_id(value)
    except ValueError:
        return False
    return True


def rename_duplicates(feature: SourceFeature, warnings: list[SpecError]) -> None:
    """Give a key seen before in the feature a suffix (`T010` again is `T010-2`), with a warning.
    A sub-task's parent is the latest task of that key before it (Kiro numbering restarts
    under a repeated number); a dependency on a repeated key means its first one."""
    seen: dict[str, int] = {}  # key -> line of its first task
    latest: dict[str, str] = {}  # source key -> the key its latest task got
    taken = {task.key for task in feature.tasks}
    for task in feature.tasks:
        if task.parent is not None:
            task.parent = latest.get(task.parent, task.parent)
        original = task.key
        if original in seen:
            n = 2
            while f"{original}-{n}" in taken:
                n += 1
            task.key = f"{original}-{n}"
            taken.add(task.key)
            warnings.append(
                SpecError(
                    f"id {original} given again (first at line {seen[original]}): read as "
                    f"{task.key}, so its TaskSpec is {taskspec_id(feature.name, task.key)}",
                    path=at(feature.path, task.line),
                    fix="give each task its own id in the plan",
                )
            )
        else:
            seen[original] = task.line
        latest[original] = task.key
