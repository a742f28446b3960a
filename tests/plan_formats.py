"""Shared by the tests of the foreign plan formats (test_formats_*.py, test_plan_command.py):
writing plan files, loading a plan with `planning:` settings, and reading its graph back."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from hatchdoit.config.models import PlanningConfig
from hatchdoit.planning.plan import Plan, load_plan

TEST_COMMAND = "python3 -m unittest -q"


def write(root: Path, rel: str, text: str) -> Path:
    """Write `text` (dedented, from its first line) to root/rel."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def settings(**planning: Any) -> PlanningConfig:
    """planning: settings with a default test command, as hatchdoit.yaml would give them."""
    defaults = {"test_command": TEST_COMMAND, **planning.pop("defaults", {})}
    return PlanningConfig.model_validate({"defaults": defaults, **planning})


def load(root: Path, **planning: Any) -> Plan:
    return load_plan(root, planning=settings(**planning))


def graph(plan: Plan) -> dict[str, list[str]]:
    """Each TaskSpec's depends_on, those the order implies marked with a trailing `*`."""
    found = {}
    for tid in plan.taskspecs:
        spec = plan.taskspec(tid)
        found[tid] = [d + "*" if d in spec.inferred_deps else d for d in spec.depends_on]
    return found


def messages(items: list[Any]) -> list[str]:
    return [item.one_line() for item in items]


def line_number(path: Path, needle: str, nth: int = 1) -> int:
    """The 1-based line of the `nth` line of `path` holding `needle`."""
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return found[nth - 1]
