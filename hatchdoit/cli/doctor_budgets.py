"""`hatchdoit doctor`: under a budget, how the spend of each agent profile the project uses is
known, whether a cap can stop one of its runs partway, and a warning when its spend cannot be
known at all (agents/spend_sources.py; README "Budgets")."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hatchdoit.agents.profiles import load_profile
from hatchdoit.agents.spend_sources import SOURCES, spend_source, stops_partway, unknown_spend
from hatchdoit.cli.doctor_check import Check, failed_check
from hatchdoit.config.models import HatchdoitConfig
from hatchdoit.core.errors import HatchdoitError
from hatchdoit.project import agents_search
from hatchdoit.providers.price_table import PRICES_CHECKED


def check_budgets(
    root: Path, config: HatchdoitConfig | None, environ: Mapping[str, str]
) -> list[Check]:
    """One check per profile hatchdoit.yaml names for factory and QA, when a budget is set."""
    if config is None:
        return []
    budgets = config.budgets
    if budgets.attempt_usd is None and budgets.taskspec_usd is None and budgets.build_usd is None:
        return []
    dirs = agents_search(root, config.agents_dir)
    checks: list[Check] = []
    for name in sorted({config.agents.factory, config.agents.qa}):
        try:
            profile = load_profile(dirs, name).profile
        except HatchdoitError as exc:
            checks.append(failed_check(f"spend of {name}", "warn", exc))
            continue
        params = config.agent_params.get(name, {})
        why = unknown_spend(profile, params, budgets.prices, environ)
        if why is not None:
            detail, _, fix = why.partition(" (fix: ")
            checks.append(Check(f"spend of {name}", "warn", detail, fix.rstrip(")")))
            continue
        can = "can" if stops_partway(profile) else "cannot"
        source = SOURCES[spend_source(profile)]
        detail = f"{source}; a cap {can} stop a run partway (prices checked {PRICES_CHECKED})"
        checks.append(Check(f"spend of {name}", "ok", detail))
    return checks
