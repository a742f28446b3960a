"""Spend caps (hatchdoit.yaml `budgets:`, README "Budgets"), checked around every agent run.

- attempt_usd: one run's cap. Claude Code print mode gets it as `--max-budget-usd` (what is
  left of the tighter of the three caps); for interactive Claude Code and Codex the wait reads
  the run's spend as it goes (live_spend.py: its transcript or rollout file, after every model
  response) and ends the session when it crosses the cap; another CLI's spend counts once it
  stops (agents/spend_sources.py).
- taskspec_usd: all runs of a TaskSpec. Crossed, `budget.json` is written: no further attempt
  runs, and the TaskSpec escalates with the reason `budget: ...`; `hatchdoit retry
  --budget-usd N` raises its cap by N (a decision, so its attempts run again).
- build_usd: everything the project's runs spent (their `.stop` files under `_logs/`). Crossed,
  no agent is launched: the step fails with one line, nothing is escalated.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hatchdoit.agents.spend_sources import unknown_spend
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import HatchdoitError, StepError
from hatchdoit.layout import ROLES, Role
from hatchdoit.project import Project
from hatchdoit.providers.spend import build_spend, taskspec_spend
from hatchdoit.records.models import BudgetRecord
from hatchdoit.run.budget_state import budget_reason, taskspec_cap
from hatchdoit.run.context import StepContext


class BuildBudgetSpent(StepError):
    """budgets.build_usd is spent: no more launches (`hatchdoit ci` exit 1, nothing escalated)."""


def before_launch(ctx: StepContext, role: Role, attempt: int) -> dict[str, str]:
    """Refuse a launch past the build's cap; the launch parameter `budget_usd` (what this run
    may spend) when a cap is set."""
    budgets = ctx.project.config.budgets
    prices = budgets.prices
    left: list[float] = []
    if budgets.build_usd is not None:
        spent = build_spend(ctx.layout, list(ctx.project.plan.taskspecs), prices).usd
        if spent >= budgets.build_usd:
            raise BuildBudgetSpent(
                f"the build's budget is spent: ${spent:.2f} of ${budgets.build_usd:.2f}; no "
                "agent is launched",
                taskspec_id=ctx.tid,
                operation="launch",
                fix="raise budgets.build_usd in hatchdoit.yaml (HATCHDOIT__BUDGETS__BUILD_USD), "
                "then rerun doit",
            )
        left.append(budgets.build_usd - spent)
    cap = taskspec_cap(ctx)
    if cap is not None:
        left.append(cap - taskspec_spend(ctx.layout, ctx.tid, prices).usd)
    if budgets.attempt_usd is not None:
        left.append(budgets.attempt_usd)
    return {"budget_usd": f"{max(min(left), 0.01):.2f}"} if left else {}


def after_run(ctx: StepContext, attempt: int) -> str | None:
    """Record budget.json when the TaskSpec's runs crossed its cap; the reason to give."""
    cap = taskspec_cap(ctx)
    if cap is None:
        return None
    spent = taskspec_spend(ctx.layout, ctx.tid, ctx.project.config.budgets.prices).usd
    if spent < cap:
        return None
    record = BudgetRecord(
        taskspec_id=ctx.tid, scope="taskspec", spent_usd=round(spent, 6), cap_usd=cap,
        attempt=attempt,
    )  # fmt: skip
    write_json_atomic(ctx.layout.budget(ctx.tid), record.model_dump(mode="json"))
    ctx.audit("budget", attempt=attempt, spent_usd=record.spent_usd, cap_usd=cap)
    return budget_reason(record)


def live_cap(ctx: StepContext) -> float | None:
    """What one run may spend while it runs: the attempt cap, or what is left of the TaskSpec's
    (checked against what the run itself reports so far)."""
    budgets = ctx.project.config.budgets
    caps = [c for c in (budgets.attempt_usd,) if c is not None]
    cap = taskspec_cap(ctx)
    if cap is not None:
        caps.append(cap - taskspec_spend(ctx.layout, ctx.tid, budgets.prices).usd)
    return min(caps) if caps else None


def spend_warnings(project: Project, environ: Mapping[str, str] | None = None) -> list[str]:
    """Under a budget, one line per agent profile the plan uses whose spend cannot be known
    (agents/spend_sources.py), for `hatchdoit validate` and `hatchdoit ci`."""
    budgets = project.config.budgets
    if budgets.attempt_usd is None and budgets.taskspec_usd is None and budgets.build_usd is None:
        return []
    names: set[str] = set()
    found: list[str] = []
    for tid in project.plan.taskspecs:
        for role in ROLES:
            try:
                profile = project.profile(tid, role).profile
            except HatchdoitError:
                continue  # a problem validate reports already
            if profile.name in names:
                continue
            names.add(profile.name)
            params = project.config.agent_params.get(profile.name, {})
            why = unknown_spend(profile, params, budgets.prices, environ or os.environ)
            if why is not None:
                found.append(why)
    return found
