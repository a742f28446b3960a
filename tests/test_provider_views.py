"""What `hatchdoit status` (text and --json) and `watch` say when a provider failed and what agents
spent, from state files written as the build writes them (tests/provider_records.py); the last
tests run real builds with the scripted agent's provider failing (SCRIPTED_PROVIDER) and read
status, metrics and JUnit after. Report, JUnit and metrics from records:
test_provider_reports.py."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest import background_doit, retry_until
from daily_use import hatchdoit
from projects import HatchProject
from provider_builds import provider, quick
from provider_records import RESUME, breaker, pause, rows, status_json, stop, utc

from hatchdoit.core.errors import EXIT_PAUSED
from hatchdoit.observe.state import update_state
from hatchdoit.project import load_project
from hatchdoit.records.audit import audit

pytestmark = pytest.mark.integration

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
