"""`_logs/current_state.json`: per TaskSpec progress and FeatSpec rollup, written atomically with
a backup kept beside it; a corrupt file is restored from the backup or rebuilt from artifacts."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from typing import Any

from hatchdoit.atomicio import read_json, write_json_atomic
from hatchdoit.faults import fault_point
from hatchdoit.locks import exclusive
from hatchdoit.logs import get_logger, log
from hatchdoit.progress import taskspec_progress
from hatchdoit.project import Project
from hatchdoit.records import now_iso


def read_state(project: Project) -> dict[str, Any]:
    """The current state file, else its backup, else an empty state (each fallback logged)."""
    return _read_state(project)[0]


def _read_state(project: Project) -> tuple[dict[str, Any], bool]:
    """(state, whether it came from the current file itself)."""
    layout = project.layout
    backup = layout.current_state.with_suffix(".json.bak")
    for path in (layout.current_state, backup):
        if not path.exists():
            continue
        try:
            data = read_json(path)
            if isinstance(data, dict) and isinstance(data.get("taskspecs"), dict):
                if path == backup:
                    _warn(project, "current_state.json was corrupt: restored from its backup")
                return data, path == layout.current_state
        except (OSError, ValueError):
            pass
        if path == layout.current_state:
            _warn(project, "current_state.json is corrupt; trying the backup")
    return {"taskspecs": {}, "featspecs": {}}, False


def update_state(project: Project, tids: list[str] | None = None) -> dict[str, Any]:
    """Recompute the entries of `tids` (all when None) from artifacts and write the file."""
    layout = project.layout
    with exclusive(layout.locks / "state.lock", "current_state.json", wait=True):
        state, current_is_good = _read_state(project)
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
        if current_is_good:  # never let a corrupt file overwrite the good backup
            shutil.copyfile(layout.current_state, layout.current_state.with_suffix(".json.bak"))
        fault_point("state.after_backup")
        write_json_atomic(layout.current_state, state)
    return state


def _rollup(project: Project, entries: dict[str, Any]) -> dict[str, Any]:
    rollup: dict[str, Any] = {}
    for fid, loaded in project.plan.featspecs.items():
        counts = Counter(e["status"] for e in entries.values() if e.get("featspec") == fid)
        total = sum(counts.values())
        if total and counts["done"] == total:
            status = "done"
        elif counts["escalated"]:
            status = "blocked"
        elif counts["active"] or counts["done"]:
            status = "in_progress"
        else:
            status = "pending"
        rollup[fid] = {"title": loaded.spec.title, "status": status, "total": total, **dict(counts)}
    return rollup


def _warn(project: Project, msg: str) -> None:
    log(
        get_logger(project.layout.logs, "orchestrator"),
        logging.WARNING,
        msg,
        operation="read_state",
    )
