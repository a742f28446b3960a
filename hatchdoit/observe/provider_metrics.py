"""Provider pauses and spend in the build metrics (observe/metrics.py).

Pauses come from the audit trail, which outlives `paused.json` (removed when the work resumes):
every `provider_fault` event counts a fault of its class (a transient one also a pause), every
`resumed` event adds the seconds it waited (`paused_s`). A TaskSpec paused now adds the time
since its fault (or, when it waits on another run's fault, since its `paused.json`). Spend is
providers/spend.py's, the caps provider_runs/budgets.py's."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hatchdoit.observe.provider_view import (
    budget_escalation,
    open_breakers,
    taskspec_spend_info,
    with_runs,
)
from hatchdoit.observe.timeline import parse_ts
from hatchdoit.project import Project
from hatchdoit.providers.fault_tables import TRANSIENT
from hatchdoit.records.models import EscalatedRecord, PausedRecord
from hatchdoit.records.schemas import try_load


def pause_metrics(
    project: Project, events: list[dict[str, Any]], now: datetime | None = None
) -> dict[str, Any]:
    """Faults and pauses by class, by provider, seconds paused, who is paused now, breakers."""
    now = now or datetime.now(UTC)
    known = set(project.plan.taskspecs)
    faults: Counter[str] = Counter()
    pauses: Counter[str] = Counter()
    by_provider: Counter[str] = Counter()
    waited = 0.0
    fault_at: dict[str, datetime] = {}  # TaskSpec -> when its pause still open began
    for event in events:
        tid, kind = event.get("taskspec_id"), event.get("event")
        if not isinstance(tid, str) or tid not in known:
            continue
        if kind == "provider_fault":
            cls = str(event.get("fault_class"))
            faults[cls] += 1
            by_provider[str(event.get("provider"))] += 1
            ts = parse_ts(event.get("ts"))
            if cls in TRANSIENT:
                pauses[cls] += 1
                if ts is not None:
                    fault_at.setdefault(tid, ts)
        elif kind == "resumed":
            seconds = event.get("paused_s")
            if isinstance(seconds, int | float) and not isinstance(seconds, bool):
                waited += float(seconds)
            fault_at.pop(tid, None)
    paused_now: list[str] = []
    ongoing = 0.0
    for tid in project.plan.taskspecs:
        record = try_load(project.layout.paused(tid), PausedRecord)
        if record is None:
            continue
        paused_now.append(tid)
        began = fault_at.get(tid) or parse_ts(record.since)
        if began is not None:
            ongoing += max(0.0, (now - began).total_seconds())
    return {
        "faults": dict(faults),
        "pauses": dict(pauses),
        "faults_by_provider": dict(by_provider),
        "paused_s": round(waited + ongoing, 3),
        "paused_now": paused_now,
        "breakers": {b.provider: b.state for b in open_breakers(project.layout)},
    }


def spend_metrics(project: Project, progress: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Spend (USD) per TaskSpec and for the build with their caps, and the TaskSpecs a spend
    cap escalated (`progress`: each TaskSpec's progress entry)."""
    ran = with_runs(project.layout)
    per: dict[str, Any] = {}
    for tid in project.plan.taskspecs:
        info = taskspec_spend_info(project, tid, tid in ran)
        if info is not None:
            per[tid] = info.model_dump()
    escalated = []
    for tid, entry in progress.items():
        if entry.get("status") == "escalated" and entry.get("step") != "integrate":
            reason = budget_escalation(try_load(project.layout.escalated(tid), EscalatedRecord))
            if reason is not None:
                escalated.append({"taskspec_id": tid, "reason": reason})
    return {
        "per_taskspec": per,
        "build": {
            "usd": round(sum(s["usd"] for s in per.values()), 6),
            "runs": sum(s["runs"] for s in per.values()),
            "unknown": sum(s["unknown"] for s in per.values()),
            "cap_usd": project.config.budgets.build_usd,
        },
        "budget_escalations": escalated,
    }


def provider_lines(metrics: dict[str, Any]) -> list[str]:
    """Provider pauses and breakers, and the spend against the budgets, when there is any."""
    lines = []
    providers = metrics["providers"]
    if providers["faults"] or providers["paused_now"] or providers["breakers"]:
        by_class = ", ".join(f"{k} {n}" for k, n in sorted(providers["faults"].items()))
        line = f"providers: {sum(providers['faults'].values())} fault(s)"
        line += f" ({by_class})" if by_class else ""
        line += f", {sum(providers['pauses'].values())} pause(s), "
        line += f"{providers['paused_s']:.1f}s paused"
        if providers["paused_now"]:
            line += f"; paused now: {', '.join(providers['paused_now'])}"
        if providers["breakers"]:
            line += "; breakers: " + ", ".join(f"{p} {s}" for p, s in providers["breakers"].items())
        lines.append(line)
    spend = metrics["spend"]
    build = spend["build"]
    capped = build["cap_usd"] is not None or any(
        s["cap_usd"] is not None for s in spend["per_taskspec"].values()
    )
    if capped or build["runs"] > build["unknown"]:
        cap = f" of ${build['cap_usd']:.2f}" if build["cap_usd"] is not None else ""
        line = f"spend: ${build['usd']:.2f}{cap} ({build['runs']} run(s)"
        line += f", {build['unknown']} reported no spend)" if build["unknown"] else ")"
        over = [
            f"{tid} ${s['usd']:.2f} of ${s['cap_usd']:.2f}"
            for tid, s in spend["per_taskspec"].items()
            if s["cap_usd"] is not None and s["usd"] >= s["cap_usd"]
        ]
        if over:
            line += "; at or over their cap: " + ", ".join(over)
        lines.append(line)
    for escalation in spend["budget_escalations"]:
        lines.append(f"escalated by budget: {escalation['taskspec_id']}: {escalation['reason']}")
    return lines
