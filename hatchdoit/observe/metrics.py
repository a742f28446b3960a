"""Build metrics from the files: `_logs/metrics.json` and a Prometheus text file `metrics.prom`.

Durations come from the audit trail (step_start to step_end/step_error), outcomes from the step
receipts (the latest run of each step and attempt), agent profiles from the launch records, and
tokens and cost from the agents' stop payloads (cost as providers/spend.py tells it: the reported
cost, else tokens at budgets.prices). Provider faults, pauses and the spend against the budgets
are observe/provider_metrics.py's. The finish step
(`taskspec`) writes no receipt: each of its runs is counted from the audit trail, ok when it
recorded `done`, failed when it recorded `escalated`, an error when it raised before either.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from hatchdoit.core.atomicio import write_atomic, write_json_atomic
from hatchdoit.core.clock import now_iso
from hatchdoit.observe.agent_usage import stop_usage
from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.observe.prometheus import to_prometheus
from hatchdoit.observe.provider_metrics import pause_metrics, provider_lines, spend_metrics
from hatchdoit.observe.timeline import StepRun, step_runs
from hatchdoit.project import Project
from hatchdoit.records.audit import read_audit
from hatchdoit.records.models import LaunchRecord, Receipt, StopRecord
from hatchdoit.records.schemas import try_load

STEPS = ("worktree", "factory", "summary", "checks", "qa", "taskspec", "integrate")
# What the steps without a receipt of their own record, in the audit trail: ok / failed events.
RECORDED = {
    "taskspec": (("done",), ("escalated",)),
    "integrate": (("integrated", "pull_request"), ("escalated",)),
}
ROLE_STEPS = {"factory": "factory", "qa": "qa"}


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 3)


def duration_stats(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "sum": round(sum(values), 3),
        "mean": round(sum(values) / len(values), 3) if values else None,
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": round(max(values), 3) if values else None,
    }


def _rates(ok: int, failed: int, errors: int) -> dict[str, Any]:
    finished = ok + failed + errors
    return {
        "ok": ok,
        "failed": failed,
        "errors": errors,
        "success_rate": round(ok / finished, 4) if finished else None,
        "failure_rate": round((failed + errors) / finished, 4) if finished else None,
    }


def _receipts(project: Project) -> list[Receipt]:
    found = []
    for tid in project.plan.taskspecs:
        for path in sorted(project.layout.state_dir(tid).glob("*.receipt.json")):
            rec = try_load(path, Receipt)
            if rec is not None:
                found.append(rec)
    return found


def _launches(project: Project) -> dict[tuple[str, str, int], LaunchRecord]:
    found: dict[tuple[str, str, int], LaunchRecord] = {}
    for tid in project.plan.taskspecs:
        for path in sorted(project.layout.state_dir(tid).glob("*.launch.json")):
            launch = try_load(path, LaunchRecord)
            if launch is not None:
                found[(tid, launch.role, launch.attempt)] = launch
    return found


def finish_results(
    events: list[dict[str, Any]], known: set[str], step: str = "taskspec"
) -> Counter[str]:
    """Runs of the finish (or integrate) step by result, from the audit trail: `ok` (it recorded
    `done`; `integrated` or a pull request), `failed` (`escalated`), `error` (it raised before
    either). A run killed before its end still counts by what it recorded; one that recorded
    nothing is not finished."""
    ok_events, failed_events = RECORDED[step]
    recorded: dict[str, str | None] = {}  # TaskSpec -> what its open run recorded
    results: Counter[str] = Counter()
    for event in events:
        tid, kind = event.get("taskspec_id"), event.get("event")
        if not isinstance(tid, str) or tid not in known:
            continue
        is_finish = event.get("step") == step
        if kind == "step_start" and is_finish:
            recorded[tid] = None
        elif kind in ok_events + failed_events and tid in recorded and recorded[tid] is None:
            recorded[tid] = str(kind)
            results["ok" if kind in ok_events else "failed"] += 1
        elif kind in ("step_end", "step_error") and is_finish and tid in recorded:
            raised_first = recorded.pop(tid) is None and kind == "step_error"
            results["error"] += int(raised_first)
    return results


def compute_metrics(project: Project, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every metric as one JSON-ready document."""
    layout = project.layout
    if events is None:
        events = read_audit(layout.audit)
    known = set(project.plan.taskspecs)
    runs = [r for r in step_runs(events) if r.taskspec_id in known]
    receipts = _receipts(project)
    launches = _launches(project)

    durations: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    for run in runs:
        if run.duration is not None:
            durations[run.step].append(run.duration)
        if run.result == "error":
            errors[run.step] += 1
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in receipts:
        outcomes[rec.step][rec.outcome] += 1
    statuses: Counter[str] = Counter()
    progress = {tid: taskspec_progress(project, tid) for tid in project.plan.taskspecs}
    for entry in progress.values():
        statuses[str(entry["status"])] += 1
    for step in RECORDED:
        outcomes[step] = finish_results(events, known, step)
        errors[step] = outcomes[step]["error"]
    steps: dict[str, Any] = {}
    for step in STEPS:
        ok, failed = outcomes[step]["ok"], outcomes[step]["failed"]
        steps[step] = {
            "runs": sum(1 for r in runs if r.step == step),
            **_rates(ok, failed, errors[step]),
            "duration_s": duration_stats(durations[step]),
        }

    agents = _agent_metrics(project, runs, receipts, launches)
    attempts = {}
    for tid, entry in progress.items():
        launched = [k for (t, role, k) in launches if t == tid and role == "factory"]
        attempts[tid] = max([int(entry.get("attempt") or 0), *launched])
    counts = [n for n in attempts.values() if n]
    tokens: Counter[str] = Counter()
    cost: float | None = None
    for profile in agents.values():
        tokens.update(profile["tokens"])
        if profile["cost_usd"] is not None:
            cost = (cost or 0.0) + profile["cost_usd"]
    pauses = pause_metrics(project, [e for e in events if e.get("taskspec_id") in known])
    spend = spend_metrics(project, progress)
    starts = [r.start for r in runs]
    ends = [r.end for r in runs if r.end is not None]
    return {
        "generated_at": now_iso(),
        "root": str(project.root),
        "taskspecs": {
            "total": len(project.plan.taskspecs),
            **{k: statuses.get(k, 0) for k in ("pending", "active", "paused", "done", "escalated")},
        },
        "steps": steps,
        "agents": agents,
        "attempts": {
            "per_taskspec": attempts,
            "mean": round(sum(counts) / len(counts), 3) if counts else None,
            "max": max(counts) if counts else None,
            "histogram": {str(k): v for k, v in sorted(Counter(counts).items())},
        },
        "tokens": dict(tokens) or None,
        "cost_usd": None if cost is None else round(cost, 6),
        "providers": pauses,
        "spend": spend,
        "wall_s": round((max(ends) - min(starts)).total_seconds(), 3) if ends else None,
    }


def _agent_metrics(
    project: Project,
    runs: list[StepRun],
    receipts: list[Receipt],
    launches: dict[tuple[str, str, int], LaunchRecord],
) -> dict[str, Any]:
    """Per agent profile: runs, outcomes, durations of its agent steps, tokens and cost."""
    per: dict[str, dict[str, Any]] = {}

    def entry(profile: str) -> dict[str, Any]:
        return per.setdefault(
            profile,
            {"roles": Counter(), "outcomes": Counter(), "durations": [], "tokens": Counter()}
            | {"cost": None},
        )

    def spent(data: dict[str, Any], stop: StopRecord) -> None:
        tokens, cost = stop_usage(stop, project.config.budgets.prices)
        data["tokens"].update(tokens)
        if cost is not None:
            data["cost"] = (data["cost"] or 0.0) + cost

    for (tid, role, attempt), launch in launches.items():
        data = entry(launch.profile)
        data["roles"][role] += 1
        current = project.layout.stop_file(tid, launch.role, attempt)
        stop = try_load(current, StopRecord)
        if stop is not None and stop.run_token == launch.run_token:
            spent(data, stop)
        # the runs a provider fault set aside (provider_runs/pause.py) spent too, as the
        # budgets count them (providers/spend.py)
        for aside in sorted(current.parent.glob(f"{current.stem}.paused-*.stop")):
            stop = try_load(aside, StopRecord)
            if stop is not None:
                spent(data, stop)
    for rec in receipts:
        of_receipt = launches.get((rec.taskspec_id, rec.step, rec.attempt))
        if rec.step in ROLE_STEPS and of_receipt is not None:
            entry(of_receipt.profile)["outcomes"][rec.outcome] += 1
    for run in runs:
        of_run = launches.get((run.taskspec_id, run.step, run.attempt))
        if run.step in ROLE_STEPS and of_run is not None and run.duration is not None:
            entry(of_run.profile)["durations"].append(run.duration)
            if run.result == "error":
                entry(of_run.profile)["outcomes"]["error"] += 1
    result = {}
    for profile, data in sorted(per.items()):
        outcomes = data["outcomes"]
        result[profile] = {
            "runs": sum(data["roles"].values()),
            "roles": dict(data["roles"]),
            **_rates(outcomes["ok"], outcomes["failed"], outcomes["error"]),
            "duration_s": duration_stats(data["durations"]),
            "tokens": dict(data["tokens"]),
            "cost_usd": None if data["cost"] is None else round(data["cost"], 6),
        }
    return result


# --------------------------------------------------------------------------------------------
# The text summary of `hatchdoit metrics`


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _seconds(stats: dict[str, Any]) -> str:
    if not stats["count"]:
        return "p50     -  p95     -"
    return f"p50 {stats['p50']:>6.2f}s  p95 {stats['p95']:>6.2f}s"


def _usage(tokens: dict[str, int] | None, cost: float | None) -> str:
    if tokens:
        kinds = ", ".join(f"{k} {v:,}" for k, v in tokens.items() if k != "total")
        used = f"tokens {tokens.get('total', 0):,}" + (f" ({kinds})" if kinds else "")
    else:
        used = "tokens not reported"
    return used + (f" · cost ${cost:.4f}" if cost is not None else " · cost not reported")


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """The human summary: one row per step, one per agent profile, attempts, tokens and cost."""
    lines = [f"{'step':<10}{'runs':>6}{'ok':>6}{'failed':>8}{'errors':>8}{'success':>9}  durations"]
    for step in sorted(metrics["steps"], key=lambda s: STEPS.index(s) if s in STEPS else 99):
        data = metrics["steps"][step]
        lines.append(
            f"{step:<10}{data['runs']:>6}{data['ok']:>6}{data['failed']:>8}{data['errors']:>8}"
            f"{_rate(data['success_rate']):>9}  {_seconds(data['duration_s'])}"
        )
    lines.append("")
    if not metrics["agents"]:
        lines.append("agent profiles: none ran yet")
    else:
        width = max(len("agent profile"), *(len(p) for p in metrics["agents"])) + 2
        lines.append(
            f"{'agent profile':<{width}}{'runs':>6}{'factory':>9}{'qa':>5}{'ok':>6}{'failed':>8}"
            f"{'errors':>8}{'success':>9}  durations · usage"
        )
        for profile, data in metrics["agents"].items():
            roles = data["roles"]
            lines.append(
                f"{profile:<{width}}{data['runs']:>6}{roles.get('factory', 0):>9}"
                f"{roles.get('qa', 0):>5}{data['ok']:>6}{data['failed']:>8}{data['errors']:>8}"
                f"{_rate(data['success_rate']):>9}  {_seconds(data['duration_s'])}"
                f" · {_usage(data['tokens'], data['cost_usd'])}"
            )
    lines.append("")
    attempts = metrics["attempts"]
    per = attempts["per_taskspec"]
    if attempts["mean"] is None:
        lines.append("attempts per TaskSpec: none made yet")
    else:
        counts = sorted(attempts["histogram"].items(), key=lambda item: int(item[0]))
        histogram = ", ".join(f"{n} took {k}" for k, n in counts)
        unstarted = sum(1 for n in per.values() if not n)
        lines.append(
            f"attempts per TaskSpec: mean {attempts['mean']:g}, max {attempts['max']} "
            f"({histogram}{f'; {unstarted} not started' if unstarted else ''})"
        )
    lines.append("all agents: " + _usage(metrics["tokens"], metrics["cost_usd"]))
    return lines + provider_lines(metrics)


def write_metrics(project: Project, events: list[dict[str, Any]] | None = None) -> list[Path]:
    """Compute and write `_logs/metrics.json` and `_logs/metrics.prom` (atomically)."""
    metrics = compute_metrics(project, events)
    json_path = project.layout.logs / "metrics.json"
    prom_path = project.layout.logs / "metrics.prom"
    write_json_atomic(json_path, metrics)
    write_atomic(prom_path, to_prometheus(metrics))
    return [json_path, prom_path]
