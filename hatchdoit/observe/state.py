"""`_logs/current_state.json`: per TaskSpec progress and FeatSpec rollup, written atomically with
a backup kept beside it; a corrupt file is restored from the backup or rebuilt from artifacts,
and either way every entry is recomputed."""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hatchdoit.core.atomicio import keep_as_backup, write_json_atomic
from hatchdoit.core.clock import now_iso
from hatchdoit.core.locks import exclusive
from hatchdoit.core.logs import log
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.project import Project


def read_state(project: Project) -> dict[str, Any]:
    """The current state file, else its backup, else an empty state (each fallback logged)."""
    return _read_state(project)[0]


def _parse_state(raw: bytes) -> dict[str, Any] | None:
    """The state in `raw`, or None if it is not a whole state file."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:  # includes UnicodeDecodeError
        return None
    if not isinstance(data, dict):
        return None
    entries = data.get("taskspecs")
    if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
        return None
    return data


def _load(path: Path) -> tuple[dict[str, Any], bytes] | None:
    """(state, the file's bytes) of the state file at `path`; None if it is missing or not a
    whole state."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    state = _parse_state(raw)
    return None if state is None else (state, raw)


def _read_state(project: Project) -> tuple[dict[str, Any], bytes | None]:
    """(state, the current file's bytes if the state came whole from it). A state that did not
    (restored from the backup, which is one write behind, or empty) may have stale entries."""
    current = project.layout.current_state
    backup = current.with_suffix(".json.bak")
    loaded = _load(current)
    if loaded is not None:
        return loaded
    damaged = current.exists()
    if damaged:
        _warn(project, "current_state.json is corrupt; trying the backup")
    loaded = _load(backup)
    if loaded is not None:
        _warn(project, f"current_state.json was {_how(damaged)}: restored from its backup")
        return loaded[0], None
    if damaged or backup.exists():
        _warn(
            project,
            f"current_state.json was {_how(damaged)} and its backup unusable: "
            "rebuilding every entry from the artifacts",
        )
    return {"taskspecs": {}, "featspecs": {}}, None


def _how(damaged: bool) -> str:
    return "corrupt" if damaged else "missing"


def update_state(project: Project, tids: list[str] | None = None) -> dict[str, Any]:
    """Recompute the entries of `tids` (all when None, or when the file had to be restored or
    rebuilt) from artifacts and write the file."""
    layout = project.layout
    with exclusive(layout.locks / "state.lock", "current_state.json", wait=True):
        state, current_bytes = _read_state(project)
        if current_bytes is None:
            tids = None  # a restored backup is one write behind; a rebuilt state is empty
        entries: dict[str, Any] = state["taskspecs"]
        for tid in tids if tids is not None else list(project.plan.taskspecs):
            spec = project.taskspec(tid)
            entries[tid] = {
                **taskspec_progress(project, tid),
                "featspec": spec.featspec,
                "title": spec.title,
                "updated_at": now_iso(),
            }
        for stale in set(entries) - set(project.plan.taskspecs):
            del entries[stale]
        state["featspecs"] = _rollup(project, entries)
        state["updated_at"] = now_iso()
        if current_bytes is not None:  # never let a corrupt file overwrite the good backup
            backup = layout.current_state.with_suffix(".json.bak")
            keep_as_backup(layout.current_state, backup, current_bytes)
        fault_point("state.after_backup")
        write_json_atomic(layout.current_state, state)
    return state


def repair_state(project: Project) -> None:
    """At the start of a build: restore a corrupt current_state.json from its backup, or rebuild
    it, so a build that runs no step does not leave it corrupt. A whole file is only parsed (no
    entry is recomputed); a missing one is left to the first step that runs."""
    path = project.layout.current_state
    try:
        if not path.exists() or _load(path) is not None:
            return
        update_state(project)
    except OSError as exc:  # the file is advisory: say so and let the build go on
        print(
            f"hatchdoit: cannot repair {path}: {exc.strerror or exc}; "
            "the next step that runs rewrites it",
            file=sys.stderr,
        )


def _rollup(project: Project, entries: dict[str, Any]) -> dict[str, Any]:
    rollup: dict[str, Any] = {}
    for fid, loaded in project.plan.featspecs.items():
        counts = Counter(e["status"] for e in entries.values() if e.get("featspec") == fid)
        total = sum(counts.values())
        if total and counts["done"] == total:
            status = "done"
        elif counts["escalated"]:
            status = "blocked"
        elif counts["active"] or counts["paused"] or counts["done"]:
            status = "in_progress"
        else:
            status = "pending"
        rollup[fid] = {"title": loaded.spec.title, "status": status, "total": total, **dict(counts)}
    return rollup


def _warn(project: Project, msg: str) -> None:
    log(
        project.logger("orchestrator"),
        logging.WARNING,
        msg,
        operation="read_state",
    )
