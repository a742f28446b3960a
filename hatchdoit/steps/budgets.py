"""Spend caps (hatchdoit.yaml `budgets:`, README "Budgets"), checked around every agent run.

- attempt_usd: one run's cap. Claude Code print mode gets it as `--max-budget-usd` (what is
  left of the tighter of the three caps); for other CLIs the wait reads the run's spend as it
  goes (its stream or transcript) and ends the session when it crosses the cap.
- taskspec_usd: all runs of a TaskSpec. Crossed, `budget.json` is written: no further attempt
  runs, and the TaskSpec escalates with the reason `budget: ...`; `hatchdoit retry
  --budget-usd N` raises its cap by N (a decision, so its attempts run again).
- build_usd: everything the project's runs spent (their `.stop` files under `_logs/`). Crossed,
  no agent is launched: the step fails with one line, nothing is escalated.
"""

from __future__ import annotations

from hatchdoit.config.provider_models import Prices
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.jsonlines import read_json_lines
from hatchdoit.layout import Role
from hatchdoit.records.models import BudgetRecord
from hatchdoit.steps.agent_run import AgentRun
from hatchdoit.steps.budget_state import budget_reason, taskspec_cap
from hatchdoit.steps.context import StepContext
from hatchdoit.steps.spend import build_spend, payload_usd, taskspec_spend, tokens_usd


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


def run_spend(run: AgentRun) -> float | None:
    """What this run has spent so far, from its stream log (headless CLIs) or its transcript
    (Claude Code's TUI, in the run's own config home); None when nothing tells."""
    layout, prices = run.ctx.layout, run.ctx.project.config.budgets.prices
    stream = layout.stream_log(run.ctx.tid, run.role, run.attempt)
    profile = run.ctx.project.profile(run.ctx.tid, run.role).profile
    params = run.ctx.project.config.agent_params.get(profile.name, {})
    keys = (str(params.get("model") or profile.params.get("model") or ""), profile.name, "*")
    price = next((prices[k] for k in keys if k in prices), None)
    total: float | None = None
    for event in read_json_lines(stream):
        usd = _event_usd(event, price)
        if usd is not None:
            total = (total or 0.0) + usd
    if total is not None:
        return total
    home = layout.session_dir(run.ctx.tid, run.role, run.attempt) / "claude-home" / "projects"
    transcripts = sorted(home.glob("*/*.jsonl"), key=lambda p: p.stat().st_mtime)
    if transcripts:
        from hatchdoit.agents.transcript import transcript_usage

        return payload_usd(transcript_usage(str(transcripts[-1])), prices)
    return None


def _event_usd(event: dict[str, object], price: Prices | None) -> float | None:
    """The spend one stream event reports: a Claude Code result's cost, a Codex turn's tokens."""
    kind, usage = event.get("type"), event.get("usage")
    if kind == "result":
        cost = event.get("total_cost_usd")
        return float(cost) if isinstance(cost, int | float) else None
    if kind == "turn.completed" and isinstance(usage, dict) and price is not None:
        cached = usage.get("cached_input_tokens")
        cached = cached if isinstance(cached, int) else 0
        whole = usage.get("input_tokens")
        fresh = whole - cached if isinstance(whole, int) else 0  # Codex counts cached in input
        counts = {**usage, "input_tokens": fresh, "cache_read_input_tokens": cached}
        return tokens_usd(counts, price)
    return None
