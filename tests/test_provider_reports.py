"""What the report, JUnit and `metrics` (with its Prometheus file) say when a provider failed
and what agents spent, from state files written as the build writes them
(tests/provider_records.py). Status and watch: test_provider_views.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from projects import HatchProject
from provider_records import RESUME, breaker, budget_escalation, pause, stop, utc
from test_metrics_report import parse_prometheus

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.observe.junit import junit_xml
from hatchdoit.observe.metrics import compute_metrics, summary_lines
from hatchdoit.observe.outcomes import task_details
from hatchdoit.observe.prometheus import to_prometheus
from hatchdoit.observe.report import render_report
from hatchdoit.project import load_project
from hatchdoit.records.audit import audit
from hatchdoit.records.models import (
    EscalatedRecord,
    LaunchRecord,
)

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# JUnit, metrics, report


def test_junit_skips_a_paused_taskspec_and_fails_a_budget_escalation(
    project: HatchProject,
) -> None:
    for tid in ("T-PAUSED", "T-BUDGET", "T-TRIES"):
        project.add_taskspec(tid)
    pause(project, "T-PAUSED")
    reason = budget_escalation(project, "T-BUDGET")
    built = load_project(project.root)
    plain = EscalatedRecord(
        taskspec_id="T-TRIES", digest=built.digest("T-TRIES"), attempts=3, reasons=["no"]
    )
    write_json_atomic(project.layout.escalated("T-TRIES"), plain.model_dump(mode="json"))

    suites = junit_xml(list(task_details(built).values()), project.root)
    cases = {case.get("name"): case for case in suites.iter("testcase")}
    skipped = cases["T-PAUSED"].find("skipped")
    assert skipped is not None and cases["T-PAUSED"].find("error") is None
    message = str(skipped.get("message"))
    assert message.startswith("paused: usage_limit on claude, resumes ")
    assert RESUME.astimezone().strftime("%H:%M:%S") in message
    failure = cases["T-BUDGET"].find("failure")
    assert failure is not None
    assert (failure.get("type"), failure.get("message")) == ("budget", f"escalated: {reason}")
    other = cases["T-TRIES"].find("failure")
    assert other is not None and other.get("type") == "escalated"
    assert suites.get("skipped") == "1" and suites.get("failures") == "2"
    assert suites.get("errors") == "0"


def test_metrics_count_pauses_time_paused_and_spend_with_caps(project: HatchProject) -> None:
    project.configure(
        budgets={
            "taskspec_usd": 2.0,
            "build_usd": 10.0,
            "prices": {"*": {"input": 3, "output": 15}},
        }
    )
    for tid in ("T-A", "T-B", "T-C"):
        project.add_taskspec(tid)
    layout = project.layout
    now = datetime.now(UTC)
    trail = [  # the audit trail as provider_runs/pause.py writes it
        {"event": "provider_fault", "taskspec_id": "T-A", "fault_class": "usage_limit",
         "provider": "claude", "role": "factory", "attempt": 1, "ts": now - timedelta(minutes=5)},
        {"event": "resumed", "taskspec_id": "T-A", "role": "factory", "attempt": 1,
         "provider": "claude", "paused_s": 12.5, "ts": now - timedelta(minutes=4)},
        {"event": "provider_fault", "taskspec_id": "T-B", "fault_class": "rate_limited",
         "provider": "claude", "role": "factory", "attempt": 1, "ts": now - timedelta(seconds=30)},
        {"event": "provider_fault", "taskspec_id": "T-C", "fault_class": "auth",
         "provider": "openai", "role": "factory", "attempt": 1, "ts": now - timedelta(minutes=1)},
    ]  # fmt: skip
    layout.audit.parent.mkdir(parents=True, exist_ok=True)
    with layout.audit.open("a", encoding="utf-8") as out:
        for event in trail:
            ts = event["ts"].isoformat(timespec="milliseconds")  # type: ignore[attr-defined]
            out.write(json.dumps({**event, "ts": ts}) + "\n")
    pause(project, "T-B", fault="rate_limited")  # still paused: its 30 s count too
    breaker(project, "openai", state="stopped", fault="auth", fix="check the key")
    launch = LaunchRecord(
        taskspec_id="T-A",
        role="factory",
        attempt=1,
        run_token="tok-a",
        digest="d",
        session="s",
        profile="codex",
        socket="x",
        prompt_file="p",
    )
    write_json_atomic(layout.launch_record("T-A", "factory", 1), launch.model_dump())
    tokens = {"usage": {"input_tokens": 100_000, "output_tokens": 20_000}}  # $0.30 + $0.30
    stop(project, "T-A", "factory-1.stop", tokens, token="tok-a")  # the launch's own stop
    stop(project, "T-A", "factory-1.paused-1.stop", {"total_cost_usd": 1.9})
    reason = budget_escalation(project, "T-C")

    metrics = compute_metrics(load_project(project.root))
    providers = metrics["providers"]
    assert providers["faults"] == {"usage_limit": 1, "rate_limited": 1, "auth": 1}
    assert providers["pauses"] == {"usage_limit": 1, "rate_limited": 1}  # auth stops, no pause
    assert providers["faults_by_provider"] == {"claude": 2, "openai": 1}
    assert 12.5 + 29 <= providers["paused_s"] <= 12.5 + 60
    assert providers["paused_now"] == ["T-B"]
    assert providers["breakers"] == {"openai": "stopped"}
    assert metrics["taskspecs"]["paused"] == 1
    # the agent's cost is providers/spend.py's: its tokens at budgets.prices (it reported no cost),
    # plus the run its provider fault set aside, as the budget counts it
    assert metrics["agents"]["codex"]["cost_usd"] == pytest.approx(0.6 + 1.9)
    spend = metrics["spend"]
    assert spend["per_taskspec"]["T-A"] == {
        "usd": pytest.approx(2.5),
        "runs": 2,
        "unknown": 0,
        "cap_usd": 2.0,
    }
    assert spend["build"] == {"usd": pytest.approx(2.5), "runs": 2, "unknown": 0, "cap_usd": 10.0}
    assert spend["budget_escalations"] == [{"taskspec_id": "T-C", "reason": reason}]

    lines = summary_lines(metrics)
    assert any(
        x.startswith("providers: 3 fault(s) (auth 1, rate_limited 1, usage_limit 1), 2 pause(s)")
        and "paused now: T-B" in x
        and "breakers: openai stopped" in x
        for x in lines
    ), lines
    assert "spend: $2.50 of $10.00 (2 run(s)); at or over their cap: T-A $2.50 of $2.00" in lines
    assert f"escalated by budget: T-C: {reason}" in lines

    prom = parse_prometheus(to_prometheus(metrics))
    assert prom['hatchdoit_provider_pauses_total{fault_class="usage_limit"}'] == 1
    assert prom['hatchdoit_provider_faults_total{fault_class="auth"}'] == 1
    assert prom["hatchdoit_provider_paused_seconds_total{}"] == providers["paused_s"]
    assert prom['hatchdoit_provider_breaker{provider="openai",state="stopped"}'] == 1
    assert prom['hatchdoit_taskspec_spend_usd{taskspec="T-A"}'] == pytest.approx(2.5)
    assert prom['hatchdoit_taskspec_budget_usd{taskspec="T-A"}'] == 2.0
    assert prom["hatchdoit_build_spend_usd{}"] == pytest.approx(2.5)
    assert prom["hatchdoit_build_budget_usd{}"] == 10.0
    assert prom['hatchdoit_taskspecs{status="paused"}'] == 1


def test_report_shows_pauses_faults_spend_and_budget_escalations(
    project: HatchProject, tmp_path: Path
) -> None:
    project.configure(budgets={"taskspec_usd": 2.0, "build_usd": 10.0})
    for tid in ("T-A", "T-B"):
        project.add_taskspec(tid)
    pause(project, "T-A", message="5-hour limit reached")
    audit(project.layout.audit, "provider_fault", "T-A", fault_class="usage_limit",
          provider="claude", role="factory", attempt=1)  # fmt: skip
    breaker(project, "claude", state="open", fault="usage_limit", until=utc(RESUME))
    stop(project, "T-B", "factory-1.stop", {"total_cost_usd": 2.5})
    reason = budget_escalation(project, "T-B")

    page = render_report(load_project(project.root), tmp_path / "report.html")
    section = page[page.index('<h2 id="providers">') :]
    paused = section[section.index('<table id="paused">') : section.index("</table>")]
    assert 'data-taskspec="T-A"' in paused and "usage_limit" in paused
    assert "5-hour limit reached" in paused and RESUME.astimezone().strftime("%H:%M:%S") in paused
    assert '<li class="breaker breaker-open">claude open until' in section
    faults = section[section.index('<table id="provider-faults">') :]
    assert "<tr><td>usage_limit</td><td class='num'>1</td><td class='num'>1</td></tr>" in faults
    spend = section[section.index('<table id="spend">') :]
    assert (
        "<tr data-taskspec=\"T-B\"><td><code>T-B</code></td><td class='num'>$2.50</td>"
        "<td class='num'>$2.00</td>" in spend
    )
    assert "<td class='num'>$10.00</td>" in spend  # the build's cap
    assert f"<li><code>T-B</code>: {reason}</li>" in spend
    assert '<span class="status status-paused">paused</span>' in page
    assert "<b>Paused</b>: paused: usage_limit on claude" in page
