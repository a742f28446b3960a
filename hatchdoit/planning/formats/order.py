"""Dependencies a foreign plan's order implies (`planning.infer_order`, on by default).

spec-kit (`phases`): every task of a `## Phase` waits for all tasks of the earlier phases; inside
a phase a task without `[P]` waits for the tasks before it (back to the last one without `[P]`),
a `[P]` task for none of its phase. Kiro (`numbered`): a task waits for the one numbered before
it at its level (major task N for N-1, sub-task N.M for N.(M-1)) and what ran beside that one,
unless marked `(P)`; a parent's dependencies are its sub-tasks' (groups.py).

What the plan marks done or skipped is passed over: a task waits for the nearest earlier tasks
still to build, so the order holds across finished work. Waiting for all of an earlier phase is
recorded as waiting for the tasks that end it (its `frontier`), which wait for the rest.
"""

from __future__ import annotations

from hatchdoit.planning.formats.groups import Groups
from hatchdoit.planning.formats.source import SourceFeature

Edges = dict[str, list[str]]  # key -> the keys (tasks or groups) it waits for


def inferred_edges(feature: SourceFeature, groups: Groups) -> Edges:
    """The edges `feature.order` implies, by source key."""
    edges: Edges = {}
    if feature.order == "phases":
        entry: list[str] = []
        for phase in _phases(groups):
            frontier = _sequence(phase, groups, entry, edges)
            entry = frontier or entry
    elif feature.order == "numbered":
        _numbered(groups.top(), groups, edges)
    return edges


def _phases(groups: Groups) -> list[list[str]]:
    """The top-level tasks by phase, phases in the order they first appear."""
    phases: dict[int | None, list[str]] = {}
    for key in groups.top():
        phases.setdefault(groups.tasks[key].phase, []).append(key)
    return list(phases.values())


def _numbered(keys: list[str], groups: Groups, edges: Edges) -> None:
    _sequence(keys, groups, [], edges)
    for key in keys:
        if groups.is_group(key):
            _numbered(groups.children[key], groups, edges)


def _sequence(keys: list[str], groups: Groups, entry: list[str], edges: Edges) -> list[str]:
    """Give each task of one ordered run its edges; return the run's frontier: the tasks still
    to build that no later task of the run waits for (a task waiting for all of them waits,
    through them, for the whole run)."""
    frontier: list[str] = []
    for key in keys:
        if groups.settled(key):
            continue  # passed over: nothing waits for it, it waits for nothing
        if groups.tasks[key].parallel:
            waits = list(entry)
            frontier.append(key)
        else:
            waits = list(frontier or entry)
            frontier = [key]
        if waits:
            edges[key] = waits
    return frontier
