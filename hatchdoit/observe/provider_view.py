"""What the views (status, watch, report, JUnit, metrics) say about provider pauses, provider
breakers and spend, read from the files the build writes: `paused.json` (provider_runs/pause.py),
`_logs/providers/<p>.json` (provider_runs/gate.py), the runs' stop files (providers/spend.py) and
`budget.json` (provider_runs/budgets.py). One place for the words, so every view says the same."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchdoit.layout import Layout
from hatchdoit.project import Project
from hatchdoit.provider_runs.gate import states
from hatchdoit.providers.spend import Spend, taskspec_spend
from hatchdoit.records.models import EscalatedRecord, ProviderState
from hatchdoit.run.budget_state import taskspec_cap
from hatchdoit.run.context import StepContext

BUDGET_REASON = "budget:"  # how run/budget_state.budget_reason starts


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class PausedInfo(_Model):
    """A TaskSpec waiting on its provider (its `paused.json`)."""

    role: str
    attempt: int
    provider: str
    fault: str = Field(description="the fault class: usage_limit, rate_limited, ...")
    message: str
    waiting_for: str = Field(description="fault: this run hit it; provider: another run did")
    resume_at: str | None = Field(description="when the same attempt runs again (UTC)")
    since: str
    pauses: int
    text: str = Field(description="paused: <class> on <provider>, resumes <time>")


class ProviderInfo(_Model):
    """A provider breaker that is not closed."""

    provider: str
    state: str = Field(description="open, probing or stopped")
    fault: str | None
    message: str
    until: str | None
    failures: int
    probe: str | None
    fix: str
    text: str


class SpendInfo(_Model):
    """What agents spent (USD) against a cap; `unknown`: runs that reported no spend."""

    usd: float
    runs: int
    unknown: int
    cap_usd: float | None = None


def moment_text(moment: str | None, now: datetime | None = None) -> str:
    """A UTC time as the reader's local clock time (with the date when not today)."""
    if not moment:
        return "?"
    try:
        when = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return moment
    today = (now or datetime.now(UTC)).astimezone().date()
    return when.strftime("%H:%M:%S %Z" if when.date() == today else "%Y-%m-%d %H:%M:%S %Z")


def paused_info(entry: dict[str, Any]) -> PausedInfo:
    """The `paused` part of a progress entry (observe/progress.py) with its one-line text."""
    resumes = moment_text(entry.get("resume_at")) if entry.get("resume_at") else None
    text = f"paused: {entry['fault']} on {entry['provider']}, resumes "
    text += resumes or f"when {entry['provider']} answers a probe"
    return PausedInfo(**{k: v for k, v in entry.items() if k in PausedInfo.model_fields}, text=text)


def breaker_text(state: ProviderState) -> str:
    """`claude open until 14:03:00 CET (usage_limit: ...)`, `... probing by T-1`, `... stopped`."""
    why = f"{state.fault}: {state.message}" if state.message else str(state.fault)
    if state.state == "open":
        parts = [f"{state.failures} faults in a row"] if state.failures > 1 else []
        parts.append(why)
        return f"{state.provider} open until {moment_text(state.until)} ({'; '.join(parts)})"
    if state.state == "probing":
        return f"{state.provider} probing by {state.probe or '?'} (after {state.fault})"
    if state.state == "stopped":
        return f"{state.provider} stopped ({why}); fix: {state.fix or 'see hatchdoit doctor'}"
    return f"{state.provider} {state.state}"


def open_breakers(layout: Layout) -> list[ProviderInfo]:
    """Every provider breaker that is not closed."""
    return [
        ProviderInfo(
            provider=s.provider,
            state=s.state,
            fault=s.fault,
            message=s.message,
            until=s.until,
            failures=s.failures,
            probe=s.probe,
            fix=s.fix,
            text=breaker_text(s),
        )
        for s in states(layout)
        if s.state != "closed"
    ]


def budgets_set(project: Project) -> bool:
    budgets = project.config.budgets
    return any(
        c is not None for c in (budgets.attempt_usd, budgets.taskspec_usd, budgets.build_usd)
    )


def with_runs(layout: Layout) -> set[str]:
    """The TaskSpecs with a hooks folder (some agent ran): only theirs have spend to read."""
    try:
        return set(os.listdir(layout.logs / "hooks"))
    except OSError:
        return set()


def taskspec_spend_info(project: Project, tid: str, ran: bool) -> SpendInfo | None:
    """The TaskSpec's spend against its cap (budgets.taskspec_usd plus granted); None when no
    agent ran and no cap is set."""
    cap = taskspec_cap(StepContext(project, tid))
    if not ran and cap is None:
        return None
    spent = taskspec_spend(project.layout, tid, project.config.budgets.prices) if ran else Spend()
    return SpendInfo(usd=round(spent.usd, 6), runs=spent.runs, unknown=spent.unknown, cap_usd=cap)


def build_spend_info(project: Project, rows: list[SpendInfo]) -> SpendInfo | None:
    """The build's spend against budgets.build_usd; None when no budget is set."""
    if not budgets_set(project):
        return None
    runs = sum(r.runs for r in rows)
    unknown = sum(r.unknown for r in rows)
    usd = round(sum(r.usd for r in rows), 6)
    return SpendInfo(usd=usd, runs=runs, unknown=unknown, cap_usd=project.config.budgets.build_usd)


def spend_text(spend: SpendInfo) -> str:
    """`$0.42 of $2.00` (or `$0.42` with no cap)."""
    return f"${spend.usd:.2f}" + (f" of ${spend.cap_usd:.2f}" if spend.cap_usd is not None else "")


def build_spend_text(spend: SpendInfo) -> str:
    cap = f" of the build's ${spend.cap_usd:.2f} budget" if spend.cap_usd is not None else ""
    text = f"spend: ${spend.usd:.2f}{cap} ({spend.runs} agent run(s)"
    if spend.unknown:
        text += f"; {spend.unknown} reported no spend"
    return text + ")"


def budget_escalation(escalated: EscalatedRecord | None) -> str | None:
    """The budget reason of an escalation caused by a spend cap (steps/finish.py), else None."""
    if escalated is None:
        return None
    return next((r for r in escalated.reasons if r.startswith(BUDGET_REASON)), None)
