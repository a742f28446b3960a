"""Where a TaskSpec stands against its budget (provider_runs/budgets.py enforces it): its cap,
and whether the cap keeps an attempt from running. Light to import: the up-to-date checks ask it."""

from __future__ import annotations

from hatchdoit.records.models import BudgetRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.run.context import StepContext


def taskspec_cap(ctx: StepContext) -> float | None:
    """The TaskSpec's cap: budgets.taskspec_usd plus what retry decisions granted."""
    base = ctx.project.config.budgets.taskspec_usd
    if base is None:
        return None
    return base + sum(d.budget_usd for d in ctx.project.decisions(ctx.tid))


def over_budget(ctx: StepContext, attempt: int) -> BudgetRecord | None:
    """The budget stop that keeps attempt k from running: budget.json from an earlier attempt,
    while the spend is still at or over the cap (a retry with more lifts it)."""
    record = try_load(ctx.layout.budget(ctx.tid), BudgetRecord)
    if record is None or record.scope != "taskspec" or record.attempt >= attempt:
        return None
    cap = taskspec_cap(ctx)
    return record if cap is not None and record.spent_usd >= cap else None


def budget_reason(record: BudgetRecord) -> str:
    return f"budget: the TaskSpec spent ${record.spent_usd:.2f} of its ${record.cap_usd:.2f}"
