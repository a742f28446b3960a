"""The metrics document (observe/metrics.py) in Prometheus' text exposition format: HELP and TYPE
for every family, label values escaped, summaries as quantiles plus _sum and _count."""

from __future__ import annotations

from typing import Any


def _label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"'


def _sample(name: str, labels: dict[str, object], value: float | int | None) -> str | None:
    if value is None:
        return None
    inner = ",".join(f"{k}={_label(v)}" for k, v in labels.items())
    number = repr(float(value)) if isinstance(value, float) else str(value)
    return f"{name}{{{inner}}} {number}" if inner else f"{name} {number}"


def to_prometheus(metrics: dict[str, Any]) -> str:
    """Render the metrics document as Prometheus text (HELP and TYPE for every family)."""
    families: list[tuple[str, str, str, list[str | None]]] = []

    def family(name: str, kind: str, help_text: str, samples: list[str | None]) -> None:
        families.append((name, kind, help_text, samples))

    ts = metrics["taskspecs"]
    family(
        "hatchdoit_taskspecs",
        "gauge",
        "TaskSpecs by status",
        [_sample("hatchdoit_taskspecs", {"status": k}, v) for k, v in ts.items() if k != "total"],
    )
    step_runs_samples: list[str | None] = []
    ratio: list[str | None] = []
    durations: list[str | None] = []
    for step, data in metrics["steps"].items():
        for key, outcome in (("ok", "ok"), ("failed", "failed"), ("errors", "error")):
            labels = {"step": step, "outcome": outcome}
            step_runs_samples.append(_sample("hatchdoit_step_results_total", labels, data[key]))
        ratio.append(_sample("hatchdoit_step_success_ratio", {"step": step}, data["success_rate"]))
        durations += _summary("hatchdoit_step_duration_seconds", {"step": step}, data["duration_s"])
    family("hatchdoit_step_results_total", "counter", "Step results by outcome", step_runs_samples)
    family("hatchdoit_step_success_ratio", "gauge", "ok / finished runs per step", ratio)
    family("hatchdoit_step_duration_seconds", "summary", "Step durations", durations)
    agent_runs: list[str | None] = []
    agent_dur: list[str | None] = []
    agent_tokens: list[str | None] = []
    agent_cost: list[str | None] = []
    for profile, data in metrics["agents"].items():
        for role, count in data["roles"].items():
            agent_runs.append(
                _sample("hatchdoit_agent_runs_total", {"profile": profile, "role": role}, count)
            )
        agent_dur += _summary(
            "hatchdoit_agent_duration_seconds", {"profile": profile}, data["duration_s"]
        )
        for kind, count in data["tokens"].items():
            agent_tokens.append(
                _sample("hatchdoit_agent_tokens_total", {"profile": profile, "kind": kind}, count)
            )
        agent_cost.append(
            _sample("hatchdoit_agent_cost_usd_total", {"profile": profile}, data["cost_usd"])
        )
    family("hatchdoit_agent_runs_total", "counter", "Agent runs per profile and role", agent_runs)
    family("hatchdoit_agent_duration_seconds", "summary", "Agent step durations", agent_dur)
    family("hatchdoit_agent_tokens_total", "counter", "Tokens reported by agents", agent_tokens)
    family("hatchdoit_agent_cost_usd_total", "counter", "Cost reported by agents", agent_cost)
    family(
        "hatchdoit_taskspec_attempts",
        "gauge",
        "Attempts per TaskSpec",
        [
            _sample("hatchdoit_taskspec_attempts", {"taskspec": tid}, n)
            for tid, n in metrics["attempts"]["per_taskspec"].items()
        ],
    )
    for name, kind, help_text, samples in provider_families(metrics):
        family(name, kind, help_text, samples)
    lines: list[str] = []
    for name, kind, help_text, samples in families:
        present = [s for s in samples if s is not None]
        if not present:
            continue
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *present]
    return "\n".join(lines) + "\n"


def _summary(name: str, labels: dict[str, object], stats: dict[str, Any]) -> list[str | None]:
    if not stats["count"]:
        return []
    return [
        _sample(name, {**labels, "quantile": "0.5"}, stats["p50"]),
        _sample(name, {**labels, "quantile": "0.95"}, stats["p95"]),
        _sample(f"{name}_sum", labels, stats["sum"]),
        _sample(f"{name}_count", labels, stats["count"]),
    ]


def provider_families(metrics: dict[str, Any]) -> list[tuple[str, str, str, list[str | None]]]:
    """Provider faults, pauses, breakers, and spend against the caps (observe/provider_metrics)."""
    providers, spend = metrics["providers"], metrics["spend"]
    per = spend["per_taskspec"]
    build = spend["build"]

    def by_class(name: str, counts: dict[str, int]) -> list[str | None]:
        return [_sample(name, {"fault_class": k}, n) for k, n in sorted(counts.items())]

    return [
        (
            "hatchdoit_provider_faults_total",
            "counter",
            "Provider faults by fault class",
            by_class("hatchdoit_provider_faults_total", providers["faults"]),
        ),
        (
            "hatchdoit_provider_pauses_total",
            "counter",
            "TaskSpec pauses on a provider fault, by fault class",
            by_class("hatchdoit_provider_pauses_total", providers["pauses"]),
        ),
        (
            "hatchdoit_provider_paused_seconds_total",
            "counter",
            "Seconds TaskSpecs spent paused on their provider",
            [_sample("hatchdoit_provider_paused_seconds_total", {}, float(providers["paused_s"]))],
        ),
        (
            "hatchdoit_provider_breaker",
            "gauge",
            "Provider breakers that are not closed (1 per provider and state)",
            [
                _sample("hatchdoit_provider_breaker", {"provider": p, "state": s}, 1)
                for p, s in providers["breakers"].items()
            ],
        ),
        (
            "hatchdoit_taskspec_spend_usd",
            "gauge",
            "What a TaskSpec's agent runs spent (USD)",
            [_sample("hatchdoit_taskspec_spend_usd", {"taskspec": t}, float(s["usd"]))
             for t, s in per.items()],
        ),
        (
            "hatchdoit_taskspec_budget_usd",
            "gauge",
            "A TaskSpec's spend cap (budgets.taskspec_usd plus granted)",
            [_sample("hatchdoit_taskspec_budget_usd", {"taskspec": t}, s["cap_usd"])
             for t, s in per.items()],
        ),
        (
            "hatchdoit_build_spend_usd",
            "gauge",
            "What every agent run of the build spent (USD)",
            [_sample("hatchdoit_build_spend_usd", {}, float(build["usd"]))],
        ),
        (
            "hatchdoit_build_budget_usd",
            "gauge",
            "The build's spend cap (budgets.build_usd)",
            [_sample("hatchdoit_build_budget_usd", {}, build["cap_usd"])],
        ),
    ]  # fmt: skip
