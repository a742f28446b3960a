"""What hatchdoit.yaml's `planning.defaults` (and `planning.features.<name>` above them) give a
TaskSpec that does not say it: a foreign plan's every TaskSpec (those formats carry no loc_cap or
test command), and a `_specs/` file's missing fields. Light on imports: a native plan loads it
on every `doit`."""

from __future__ import annotations

from typing import Any

from hatchdoit.config.models import PlanningConfig, TaskDefaults

DEFAULT_LOC_CAP = 400


def task_defaults(settings: PlanningConfig, feature: str) -> dict[str, Any]:
    """TaskSpec fields from `planning.defaults`, `planning.features.<feature>` above them."""
    fields: dict[str, Any] = {"loc_cap": DEFAULT_LOC_CAP}
    for layer in (settings.defaults, settings.features.get(feature, TaskDefaults())):
        for name, value in layer.model_dump(exclude={"agent"}, exclude_none=True).items():
            fields[name] = value
        agent = layer.agent.model_dump(exclude_none=True)
        if agent:
            fields["agent"] = {**fields.get("agent", {}), **agent}
    if not fields.get("test_command"):
        fields.pop("test_command", None)
    return fields
