"""Whether an integrate step that finds the merge queue busy may hand its landing over to the
batch landing now and free its doit worker (steps/merge_batch.py, README: Waiting for the queue
holds no doit worker)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from hatchdoit.delivery.landed import integrated
from hatchdoit.run.context import StepContext
from hatchdoit.run.landing_scope import landing_scope


def may_hand_over(ctx: StepContext) -> bool:
    """Whether this integrate step may hand its landing over and free its doit worker: in a
    doit build, when nothing else the build runs waits for this landing (no TaskSpec of the
    build that depends on it, directly or not, is still to be integrated)."""
    scope = landing_scope()
    if scope is None:
        return False
    project = ctx.project
    return not any(
        tid in scope and not integrated(project, tid) for tid in dependents(ctx, ctx.tid)
    )


def dependents(ctx: StepContext, of: str) -> set[str]:
    """The TaskSpecs of the plan that depend on `of`, directly or not."""
    needed_by: dict[str, list[str]] = {}
    for tid in ctx.project.plan.taskspecs:
        for dep in ctx.project.taskspec(tid).depends_on:
            needed_by.setdefault(dep, []).append(tid)
    found: set[str] = set()
    todo = list(needed_by.get(of, []))
    while todo:
        tid = todo.pop()
        if tid not in found:
            found.add(tid)
            todo += needed_by.get(tid, [])
    return found


def held_by_this_build(ctx: StepContext, lock: Path) -> bool:
    """Whether the queue's lock is held by another doit worker of this build (a sibling, which
    lands what was handed over once it lets the queue go), not by another program or build:
    both are children of the process holding this project's build lock."""
    main = _pid_in(ctx.layout.locks / "build.lock")
    holder = _pid_in(lock)
    if main <= 0 or holder <= 0 or holder == os.getpid() or os.getppid() != main:
        return False
    try:
        return bool(psutil.Process(holder).ppid() == main)
    except psutil.Error:
        return False


def _pid_in(path: Path) -> int:
    try:
        return int(path.read_text(encoding="utf-8").strip() or "0")
    except (OSError, ValueError):
        return 0
