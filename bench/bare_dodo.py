"""Bare doit with hatchdoit's task graph and trivial file tasks: the baseline of the scale runs.

Copied as `dodo.py` next to a `bare.json` ({"taskspecs": [{"id", "deps", "spec"}], "attempts"})
that the benchmark writes. Same task names, groups and `task_dep` edges as hatchdoit's graph;
each task depends on its TaskSpec's file (`file_dep`) and writes one target file, Make style.
Imports nothing of hatchdoit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PLAN: dict[str, Any] = json.loads((HERE / "bare.json").read_text(encoding="utf-8"))
STEPS = ("factory", "summary", "checks", "qa")
DOIT_CONFIG = {
    "dep_file": ".doit.db",
    "backend": "sqlite3",
    "default_tasks": ["taskspec"],
    "verbosity": 1,
}


def touch(target: str) -> None:
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ok\n", encoding="utf-8")


def _task(step: str, entry: dict[str, Any], attempt: int, deps: list[str]) -> dict[str, Any]:
    tid = str(entry["id"])
    target = str(HERE / "out" / tid / f"{step}-{attempt}")
    return {
        "name": tid if step in ("worktree", "setup", "taskspec") else f"{tid}.{attempt}",
        "actions": [(touch, [target])],
        "file_dep": [entry["spec"]],
        "targets": [target],
        "task_dep": deps,
    }


def task_worktree() -> Iterator[dict[str, Any]]:
    for entry in PLAN["taskspecs"]:
        yield _task("worktree", entry, 0, [f"taskspec:{dep}" for dep in entry["deps"]])


def task_setup() -> Iterator[dict[str, Any]]:
    for entry in PLAN["taskspecs"]:
        yield _task("setup", entry, 0, [f"worktree:{entry['id']}"])


def _attempts(step: str) -> Iterator[dict[str, Any]]:
    index = STEPS.index(step)
    for entry in PLAN["taskspecs"]:
        tid = entry["id"]
        for k in range(1, int(PLAN["attempts"]) + 1):
            if index > 0:
                dep = f"{STEPS[index - 1]}:{tid}.{k}"
            elif k > 1:
                dep = f"qa:{tid}.{k - 1}"
            else:
                dep = f"setup:{tid}"
            yield _task(step, entry, k, [dep])


def task_factory() -> Iterator[dict[str, Any]]:
    yield from _attempts("factory")


def task_summary() -> Iterator[dict[str, Any]]:
    yield from _attempts("summary")


def task_checks() -> Iterator[dict[str, Any]]:
    yield from _attempts("checks")


def task_qa() -> Iterator[dict[str, Any]]:
    yield from _attempts("qa")


def task_taskspec() -> Iterator[dict[str, Any]]:
    for entry in PLAN["taskspecs"]:
        tid = entry["id"]
        deps = [f"qa:{tid}.{k}" for k in range(1, int(PLAN["attempts"]) + 1)]
        yield _task("taskspec", entry, 0, deps)
