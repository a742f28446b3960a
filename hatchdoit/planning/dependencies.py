"""A plan's dependency graph: every `featspec` and `depends_on` names a spec that can be built,
no cycles, and the TaskSpecs in dependency order. A TaskSpec that fails a check leaves the plan
with an error at its file and field, and so do the TaskSpecs that depend on it."""

from __future__ import annotations

import graphlib
from pathlib import Path
from typing import TYPE_CHECKING

from hatchdoit.core.errors import SpecError
from hatchdoit.planning.specs import TaskSpec

if TYPE_CHECKING:
    from hatchdoit.planning.plan import Plan


def check_references(plan: Plan) -> None:
    for tid, loaded in list(plan.taskspecs.items()):
        spec = loaded.spec
        assert isinstance(spec, TaskSpec)
        if spec.featspec not in plan.featspecs:
            plan.errors.append(
                SpecError(
                    f"unknown FeatSpec {spec.featspec!r}",
                    path=loaded.path,
                    field="featspec",
                    fix="use the id of a FeatSpec in _specs/",
                )
            )
            del plan.taskspecs[tid]
            continue
        unknown = [dep for dep in spec.depends_on if dep not in plan.taskspecs]
        if unknown:
            plan.errors.append(
                SpecError(
                    f"unknown TaskSpec id(s) {', '.join(unknown)}",
                    path=loaded.path,
                    field="depends_on",
                    fix="list ids of valid TaskSpecs in _specs/",
                )
            )
            del plan.taskspecs[tid]
    drop_dependents_of_missing(plan)


def drop_dependents_of_missing(plan: Plan) -> None:
    """Remove (and report) TaskSpecs that depend on one that is not in the plan."""
    changed = True
    while changed:
        changed = False
        for tid, loaded in list(plan.taskspecs.items()):
            spec = loaded.spec
            assert isinstance(spec, TaskSpec)
            missing = [d for d in spec.depends_on if d not in plan.taskspecs]
            if missing:
                plan.errors.append(
                    SpecError(
                        f"depends on {', '.join(missing)}, which cannot be built",
                        path=_where(plan, tid),
                        field="depends_on",
                        fix="fix the TaskSpec(s) it depends on",
                    )
                )
                del plan.taskspecs[tid]
                changed = True


def order_and_check_cycles(plan: Plan) -> None:
    while True:
        graph = {tid: set(plan.taskspec(tid).depends_on) for tid in plan.taskspecs}
        try:
            order = list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            cycle = list(dict.fromkeys(exc.args[1]))
            fix = "remove one of the dependencies in the cycle" + _inferred_in(plan, cycle)
            for tid in cycle:
                plan.errors.append(
                    SpecError(
                        f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}",
                        path=_where(plan, tid),
                        field="depends_on",
                        fix=fix,
                    )
                )
                del plan.taskspecs[tid]
            drop_dependents_of_missing(plan)
            continue
        plan.taskspecs = {tid: plan.taskspecs[tid] for tid in order}
        return


def _where(plan: Plan, tid: str) -> Path | str:
    """A TaskSpec's file; for one of a foreign plan, its file and line."""
    source = plan.taskspec(tid).source
    return plan.root / source if source else plan.taskspecs[tid].path


def _inferred_in(plan: Plan, cycle: list[str]) -> str:
    """What of the cycle a foreign plan's order made (planning/formats/order.py), to say so."""
    # graphlib reports a cycle as [a, b, ..., a] with each node waiting for the one before it
    edges = [(cycle[i], cycle[i - 1]) for i in range(1, len(cycle))] + [(cycle[0], cycle[-1])]
    made = [f"{a} -> {b}" for a, b in edges if b in plan.taskspec(a).inferred_deps]
    if not made:
        return ""
    inferred = ", ".join(made)
    return f"; {inferred} come from the plan's order (planning.infer_order: false drops them)"
