"""Load a planning repo: read it in its format (formats/registry.py: the native `_specs/`, or a
spec-kit, Task Master or Kiro plan), check its dependencies (dependencies.py); report every
problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hatchdoit.config.models import PlanningConfig
from hatchdoit.core.errors import SpecError, SpecErrors
from hatchdoit.planning.dependencies import check_references, order_and_check_cycles
from hatchdoit.planning.formats.hatchdoit import read_specs_dir
from hatchdoit.planning.formats.registry import choose_format
from hatchdoit.planning.specs import LoadedSpec, TaskSpec


@dataclass
class Plan:
    """The valid specs of a planning repo, in dependency order, plus every problem found."""

    root: Path
    featspecs: dict[str, LoadedSpec] = field(default_factory=dict)
    taskspecs: dict[str, LoadedSpec] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)
    # What is worth saying but loads anyway (a duplicated id read with a suffix, ...)
    warnings: list[SpecError] = field(default_factory=list)
    format: str = "hatchdoit"  # the format it was read in

    def taskspec(self, taskspec_id: str) -> TaskSpec:
        spec = self.taskspecs[taskspec_id].spec
        assert isinstance(spec, TaskSpec)
        return spec

    def built_dependencies(self, taskspec_id: str) -> list[str]:
        """Its dependencies that hatchdoit builds: those the plan marks done or skipped have no
        branch and nothing to merge (their work is the target's already, or not wanted)."""
        return [
            dep
            for dep in self.taskspec(taskspec_id).depends_on
            if self.taskspec(dep).plan_status is None
        ]

    def raise_errors(self) -> None:
        if self.errors:
            raise SpecErrors(self.errors)


def load_plan(
    root: Path, cache: Path | None = None, planning: PlanningConfig | None = None
) -> Plan:
    """Load the plan at `root` as hatchdoit.yaml's `planning:` says (default: `format: auto`);
    invalid specs go to `plan.errors`, not the graph. With `cache`, the native format keeps
    parsed files there and reuses them while unchanged (parse_cache.py)."""
    plan = Plan(root=root)
    configured = "auto" if planning is None else planning.format
    plan.format = choose_format(root, configured, plan.errors, plan.warnings)
    if plan.format == "hatchdoit":
        read_specs_dir(root, plan, cache, planning)
    elif plan.format:  # "": no plan found (the error says so)
        # imported here: a `_specs/` plan (every `doit` of a big one) never loads the readers
        from hatchdoit.planning.formats.foreign import read_foreign

        read_foreign(plan.format, root, planning or PlanningConfig(), plan)
    check_references(plan)
    order_and_check_cycles(plan)
    return plan
