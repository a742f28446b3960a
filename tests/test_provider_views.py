"""What a person looks at says when a provider failed and what agents spent: `hatchdoit status`
(text and --json), `watch`, `report`, JUnit and `metrics` (with its Prometheus file). The state
files are written as the build writes them (the records' models, the layout's paths); the last
tests run real builds with the scripted agent's provider failing (SCRIPTED_PROVIDER)."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import background_doit, retry_until
from daily_use import hatchdoit
from projects import HatchProject
from provider_builds import provider, quick
from test_metrics_report import parse_prometheus

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import EXIT_PAUSED
from hatchdoit.observe.junit import junit_xml
from hatchdoit.observe.metrics import compute_metrics, summary_lines
from hatchdoit.observe.outcomes import task_details
from hatchdoit.observe.prometheus import to_prometheus
from hatchdoit.observe.report import render_report
from hatchdoit.observe.state import update_state
from hatchdoit.project import load_project
from hatchdoit.records.audit import audit
from hatchdoit.records.models import (
    BudgetRecord,
    EscalatedRecord,
    LaunchRecord,
    PausedRecord,
    ProviderState,
    StopRecord,
)
from hatchdoit.steps.budget_state import budget_reason

pytestmark = pytest.mark.integration

RESUME = datetime.now(UTC) + timedelta(hours=1)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pause(project: HatchProject, tid: str, **fields: Any) -> PausedRecord:
    values: dict[str, Any] = {
        "taskspec_id": tid,
        "role": "factory",
        "attempt": 1,
        "provider": "claude",
        "fault": "usage_limit",
        "message": "You've hit your limit · resets 3pm",
        "waiting_for": "fault",
        "resume_at": utc(RESUME),
        **fields,
    }
    record = PausedRecord(**values)
    write_json_atomic(project.layout.paused(tid), record.model_dump(mode="json"))
    return record


def breaker(project: HatchProject, provider: str, **fields: Any) -> ProviderState:
    state = ProviderState(provider=provider, **fields)
    write_json_atomic(project.layout.provider_state(provider), state.model_dump(mode="json"))
    return state


def stop(
    project: HatchProject, tid: str, name: str, payload: dict[str, Any], token: str = "tok"
) -> None:
    record = StopRecord(
        run_token=token,
        taskspec_id=tid,
        role="factory",
        attempt=1,
        event="stop",
        source="hook",
        payload=payload,
    )
    write_json_atomic(project.layout.hooks_dir(tid) / name, record.model_dump(mode="json"))


def status_json(project: HatchProject) -> dict[str, Any]:
    done = hatchdoit(project, "status", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(data, json.loads(hatchdoit(project, "status", "--schema").stdout))
    return data


def rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["taskspec_id"]: row for row in data["taskspecs"]}


# --------------------------------------------------------------------------------------------
# status and watch


def test_a_paused_taskspec_is_paused_in_status_not_failed(project: HatchProject) -> None:
    project.add_taskspec("T-A")
    project.add_taskspec("T-B")
    pause(project, "T-A")
    # what `hatchdoit ci` leaves when the pause outlasts ci_max_wait: the factory step raised
    audit(project.layout.audit, "step_start", "T-A", step="factory", attempt=1)
    audit(project.layout.audit, "step_error", "T-A", step="factory", attempt=1, error="paused")
    breaker(project, "claude", state="open", fault="usage_limit", until=utc(RESUME), failures=2,
            message="You've hit your limit")  # fmt: skip
    breaker(project, "openai", state="closed")

    data = status_json(project)
    row = rows(data)["T-A"]
    assert (row["status"], row["state"], row["step"], row["attempt"]) == (
        "paused",
        "paused",
        "factory",
        1,
    )
    paused = row["paused"]
    assert (paused["fault"], paused["provider"], paused["waiting_for"]) == (
        "usage_limit",
        "claude",
        "fault",
    )
    assert paused["resume_at"] == utc(RESUME)
    local = RESUME.astimezone().strftime("%H:%M:%S")
    assert paused["text"].startswith("paused: usage_limit on claude, resumes ")
    assert local in paused["text"]
    assert rows(data)["T-B"]["paused"] is None and rows(data)["T-B"]["state"] == "pending"
    assert data["totals"]["paused"] == 1
    (feat,) = data["featspecs"]
    assert (feat["status"], feat["counts"]) == ("in_progress", {"paused": 1, "pending": 1})
    (provider,) = data["providers"]  # the closed one is not listed
    assert (provider["provider"], provider["state"], provider["until"]) == (
        "claude",
        "open",
        utc(RESUME),
    )
    assert provider["text"].startswith(f"claude open until {local}")
    assert "2 faults in a row; usage_limit: You've hit your limit" in provider["text"]
    assert data["spend"] is None  # no budget set, no run reported a cost

    text = hatchdoit(project, "status").stdout
    assert "failed" not in text
    assert f"1 paused: usage_limit on claude, resumes {local}" in text
    assert f"provider claude open until {local}" in text
    assert "1 paused, 1 pending" in text
    assert "spend" not in text

    # current_state.json's entry and rollup say it too
    state = update_state(load_project(project.root))
    assert state["taskspecs"]["T-A"]["status"] == "paused"
    assert state["taskspecs"]["T-A"]["paused"]["provider"] == "claude"
    assert state["featspecs"][project.featspec]["status"] == "in_progress"
    assert state["featspecs"][project.featspec]["paused"] == 1


def test_probing_and_stopped_breakers_in_status_and_watch(project: HatchProject) -> None:
    project.add_taskspec("T-A")
    project.add_taskspec("T-B")
    pause(project, "T-A", waiting_for="provider", resume_at=None, provider="codex",
          fault="rate_limited")  # fmt: skip
    breaker(project, "codex", state="probing", fault="rate_limited", probe="T-B")
    fix = "check OPENAI_API_KEY (or CODEX_API_KEY, or `codex login`); then rerun doit"
    breaker(project, "openai", state="stopped", fault="auth", message="Invalid API key", fix=fix)

    data = status_json(project)
    texts = [p["text"] for p in data["providers"]]
    assert texts == [
        "codex probing by T-B (after rate_limited)",
        f"openai stopped (auth: Invalid API key); fix: {fix}",
    ]
    paused = rows(data)["T-A"]["paused"]
    assert paused["text"] == "paused: rate_limited on codex, resumes when codex answers a probe"

    watch = hatchdoit(project, "watch", "--once", columns=300)
    assert watch.returncode == 0, watch.stderr
    assert "1 paused" in watch.stdout.splitlines()[0]
    assert "1 paused: rate_limited on codex, resumes when codex answers a probe (T-A)" in (
        watch.stdout
    )
    assert "provider codex probing by T-B (after rate_limited)" in watch.stdout
    assert f"provider openai stopped (auth: Invalid API key); fix: {fix}" in watch.stdout


def test_status_gives_spend_against_the_taskspec_and_build_caps(project: HatchProject) -> None:
    project.configure(budgets={"taskspec_usd": 1.0, "build_usd": 5.0})
    project.add_taskspec("T-A")
    project.add_taskspec("T-B")
    project.add_taskspec("T-C")
    stop(project, "T-A", "factory-1.stop", {"total_cost_usd": 0.6})
    stop(project, "T-A", "factory-1.paused-1.stop", {"total_cost_usd": 0.5})  # set aside
    stop(project, "T-B", "factory-1.stop", {"usage": {"input_tokens": 10}})  # no price: unknown

    data = status_json(project)
    spend = {tid: row["spend"] for tid, row in rows(data).items()}
    assert spend["T-A"] == {"usd": pytest.approx(1.1), "runs": 2, "unknown": 0, "cap_usd": 1.0}
    assert spend["T-B"] == {"usd": 0.0, "runs": 1, "unknown": 1, "cap_usd": 1.0}
    assert spend["T-C"] == {"usd": 0.0, "runs": 0, "unknown": 0, "cap_usd": 1.0}
    assert data["spend"] == {"usd": pytest.approx(1.1), "runs": 3, "unknown": 1, "cap_usd": 5.0}

    text = hatchdoit(project, "status").stdout
    assert "spend: $1.10 of the build's $5.00 budget (3 agent run(s); 1 reported no spend)" in text
    line = next(x for x in text.splitlines() if "T-A" in x)
    assert line.rstrip().endswith("$1.10/$1.00")


def test_spend_is_in_status_only_under_a_budget(project: HatchProject) -> None:
    """Reading every run's stop file is paid only where a budget asks for it."""
    project.add_taskspec("T-A")
    stop(project, "T-A", "factory-1.stop", {"total_cost_usd": 0.25})
    data = status_json(project)
    assert data["spend"] is None and data["taskspecs"][0]["spend"] is None
    assert "spend:" not in hatchdoit(project, "status").stdout
    project.configure(budgets={"build_usd": 10})
    data = status_json(project)
    assert data["spend"] == {"usd": 0.25, "runs": 1, "unknown": 0, "cap_usd": 10.0}
    assert (
        "spend: $0.25 of the build's $10.00 budget (1 agent run(s))"
        in hatchdoit(project, "status").stdout
    )


# --------------------------------------------------------------------------------------------
# JUnit, metrics, report


def budget_escalation(project: HatchProject, tid: str) -> str:
    """Escalated by its spend cap, as steps/finish.py records it."""
    built = load_project(project.root)
    reason = budget_reason(
        BudgetRecord(taskspec_id=tid, scope="taskspec", spent_usd=2.5, cap_usd=2.0, attempt=1)
    )
    record = EscalatedRecord(
        taskspec_id=tid,
        digest=built.digest(tid),
        attempts=1,
        reasons=["attempt 1: tests failed", reason],
    )
    write_json_atomic(project.layout.escalated(tid), record.model_dump(mode="json"))
    return reason


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
    trail = [  # the audit trail as provider_pause.py writes it
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
    # the agent's cost is steps/spend.py's: its tokens at budgets.prices (it reported no cost),
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


# --------------------------------------------------------------------------------------------
# Real builds: the scripted agent's provider fails


def test_status_while_a_real_build_is_paused_and_metrics_after_it_resumed(
    project: HatchProject,
) -> None:
    quick(project)
    provider(project, kind="usage_limit", for_s=8, message="You've hit your limit")
    project.add_taskspec("T-REAL", max_attempts=1)
    with background_doit(project) as build:

        def paused_row() -> dict[str, Any] | None:
            data = json.loads(hatchdoit(project, "status", "--json").stdout)
            row = rows(data)["T-REAL"]
            return data if row["state"] == "paused" and data["providers"] else None

        data = retry_until(paused_row, timeout=60, interval=0.2, what="T-REAL paused")
        row = rows(data)["T-REAL"]
        assert (row["paused"]["fault"], row["paused"]["provider"]) == ("usage_limit", "scripted")
        assert row["paused"]["text"].startswith("paused: usage_limit on scripted, resumes ")
        assert data["build"]["running"] is True  # paused while the build runs: not `running`
        (breaker_state,) = data["providers"]
        assert (breaker_state["provider"], breaker_state["state"]) == ("scripted", "open")
        assert build.wait(timeout=120) == 0
    after = status_json(project)
    assert rows(after)["T-REAL"]["state"] == "done" and rows(after)["T-REAL"]["paused"] is None
    assert after["providers"] == [] and after["totals"]["paused"] == 0
    metrics = json.loads(hatchdoit(project, "metrics", "--json").stdout)
    providers = metrics["providers"]
    assert providers["pauses"] == {"usage_limit": 1}
    assert providers["paused_s"] > 1  # from the resumed event: paused.json is gone
    assert providers["paused_now"] == []


def test_ci_that_stops_on_a_long_pause_leaves_status_and_junit_saying_paused(
    project: HatchProject,
) -> None:
    quick(project)
    project.configure(providers={"ci_max_wait": 5})
    provider(project, kind="usage_limit", until=time.time() + 3600, message="Limit reached")
    project.add_taskspec("T-LONG")
    done = hatchdoit(project, "ci", timeout=180)
    assert done.returncode == EXIT_PAUSED, done.stdout + done.stderr
    data = status_json(project)
    row = rows(data)["T-LONG"]
    assert (row["state"], row["paused"]["fault"], row["paused"]["provider"]) == (
        "paused",
        "usage_limit",
        "scripted",
    )
    text = hatchdoit(project, "status").stdout
    assert "1 paused: usage_limit on scripted, resumes " in text
    assert "provider scripted open until " in text
    case = ET.parse(project.logs / "junit.xml").getroot().find(".//testcase[@name='T-LONG']")
    assert case is not None and case.find("error") is None and case.find("failure") is None
    skipped = case.find("skipped")
    assert skipped is not None
    assert str(skipped.get("message")).startswith("paused: usage_limit on scripted, resumes ")
