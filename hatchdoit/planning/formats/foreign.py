"""Reading a spec-kit, Task Master or Kiro plan into a Plan: the format's reader
(registry.py) finds its features and tasks, `planning.include` picks the features, and
assemble.py makes each one's FeatSpec and TaskSpecs. hatchdoit never writes to the plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hatchdoit.config.models import PlanningConfig
from hatchdoit.core.errors import SpecError
from hatchdoit.planning.dependencies import drop_dependents_of_missing
from hatchdoit.planning.formats.assemble import CONFIG_FILE, assemble
from hatchdoit.planning.formats.registry import reader
from hatchdoit.planning.specs import LoadedSpec

if TYPE_CHECKING:
    from hatchdoit.planning.plan import Plan


def read_foreign(fmt: str, root: Path, settings: PlanningConfig, plan: Plan) -> None:
    """Add the plan at `root`, in format `fmt`, to `plan` (its problems to its lists)."""
    include = set(settings.include)
    found = reader(fmt)(root, lambda name: not include or name in include)
    plan.errors += found.errors
    plan.warnings += found.warnings
    known = ", ".join(found.names) or "none"
    for name in settings.include:
        if name not in found.names:
            plan.errors.append(
                SpecError(
                    f"names {name!r}, which the {fmt} plan at {root} has no feature of",
                    path=CONFIG_FILE,
                    field="planning.include",
                    fix=f"use the names of its features or tags: {known}",
                )
            )
    for name in settings.features:
        if name not in found.names:
            plan.warnings.append(
                SpecError(
                    f"planning.features.{name}: the plan has no feature or tag {name!r}",
                    path=CONFIG_FILE,
                    fix=f"use the names of its features or tags: {known}",
                )
            )
    for feature in found.features:
        featspec, taskspecs = assemble(feature, settings, root, plan.errors, plan.warnings)
        if featspec is None:
            continue
        if featspec.spec.id in plan.featspecs:
            plan.errors.append(_taken(featspec, plan.featspecs[featspec.spec.id], "feature"))
            continue
        plan.featspecs[featspec.spec.id] = featspec
        for loaded in taskspecs:
            if loaded.spec.id in plan.taskspecs:
                plan.errors.append(_taken(loaded, plan.taskspecs[loaded.spec.id], "TaskSpec"))
                continue
            plan.taskspecs[loaded.spec.id] = loaded
    drop_dependents_of_missing(plan)  # of a task left out for its error: each at its line


def _taken(loaded: LoadedSpec, first: LoadedSpec, what: str) -> SpecError:
    """Two names that differ only in characters an id cannot hold make the same id."""
    return SpecError(
        f"makes the {what} id {loaded.spec.id!r}, as {first.path} does",
        path=getattr(loaded.spec, "source", None) or loaded.path,
        fix="rename one of the two features so that their ids differ",
    )
