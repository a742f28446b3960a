"""Critical path first: which TaskSpec starts first when more steps are ready than slots.

A TaskSpec's priority is the longest chain of predicted work that still waits on it: its own
predicted duration (predict.py) plus the highest priority among the TaskSpecs that depend on it.
The start order sorts by priority, highest first, ties in plan order. A chain of four TaskSpecs
whose ids sort last thus starts before six independent ones: the chain bounds the makespan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hatchdoit.build.predict import Prediction, predict, read_history

if TYPE_CHECKING:
    from hatchdoit.project import Project


@dataclass(frozen=True)
class Ranked:
    """One TaskSpec's place in the start order (0 first), its priority and its prediction."""

    rank: int
    priority: float  # seconds of predicted work on the longest chain from here
    prediction: Prediction


def chain_priorities(
    depends_on: dict[str, list[str]], seconds: dict[str, float]
) -> dict[str, float]:
    """Each TaskSpec's own seconds plus the longest chain of its dependents' (the plan is a DAG;
    dependencies outside `seconds` are ignored)."""
    dependents: dict[str, list[str]] = {tid: [] for tid in seconds}
    for tid, deps in depends_on.items():
        for dep in deps:
            if dep in dependents and tid in seconds:
                dependents[dep].append(tid)
    # dependents before what they depend on: a TaskSpec's chain needs its dependents' first
    waiting = {tid: len(dependents[tid]) for tid in seconds}
    ready = [tid for tid, n in waiting.items() if n == 0]
    found: dict[str, float] = {}
    while ready:
        tid = ready.pop()
        found[tid] = seconds[tid] + max((found[d] for d in dependents[tid]), default=0.0)
        for dep in depends_on.get(tid, []):
            if dep in waiting:
                waiting[dep] -= 1
                if waiting[dep] == 0:
                    ready.append(dep)
    return found


def start_order(project: Project) -> dict[str, Ranked]:
    """Every TaskSpec of the plan with its rank, priority and prediction, in plan order."""
    predictions = predict(project, read_history(project))
    ids = list(predictions)
    priorities = chain_priorities(
        {tid: list(project.taskspec(tid).depends_on) for tid in ids},
        {tid: p.seconds for tid, p in predictions.items()},
    )
    ordered = sorted(range(len(ids)), key=lambda i: (-priorities[ids[i]], i))
    return {
        ids[i]: Ranked(rank, round(priorities[ids[i]], 3), predictions[ids[i]])
        for rank, i in enumerate(ordered)
    }
