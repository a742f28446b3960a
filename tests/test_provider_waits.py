"""How long a provider fault keeps launches away (provider_runs/gate.py: `providers.backoff`,
`max_wait`, `jitter`), how one breaker opens once and lets one probe through, and how many of a
CLI's own authentication retries a run gets (`providers.auth_retries`, providers/stream_watch.py).
Plain functions on a temp layout; the builds are in test_provider_pause.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hatchdoit.config.provider_models import ProvidersConfig
from hatchdoit.layout import Layout
from hatchdoit.provider_runs.gate import answered, faulted, gate, resume_time
from hatchdoit.providers.stream_watch import StreamWatch


def seconds_until(moment: datetime) -> float:
    return (moment - datetime.now(UTC)).total_seconds()


def test_without_a_reset_the_wait_doubles_per_fault_up_to_max_wait() -> None:
    settings = ProvidersConfig(backoff=10, max_wait=60, jitter=0)
    fault = {"class": "server_error", "message": "500"}
    waits = [seconds_until(resume_time(fault, n, settings)) for n in (1, 2, 3, 4, 9)]
    assert [round(w) for w in waits] == [10, 20, 40, 60, 60]


def test_a_named_reset_is_waited_for_however_far_and_retry_after_is_capped() -> None:
    settings = ProvidersConfig(backoff=10, max_wait=60, jitter=0)
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    limit = {"class": "usage_limit", "resets_at": reset.strftime("%Y-%m-%dT%H:%M:%SZ")}
    until = resume_time(limit, 1, settings)
    assert abs((until - reset).total_seconds()) < 0.01  # the reset itself, not max_wait
    slow_down = {"class": "rate_limited", "retry_after_s": 7}
    assert round(seconds_until(resume_time(slow_down, 5, settings))) == 7
    too_long = {"class": "rate_limited", "retry_after_s": 900}
    assert round(seconds_until(resume_time(too_long, 1, settings))) == 60


def test_jitter_adds_up_to_its_fraction_of_the_wait() -> None:
    settings = ProvidersConfig(backoff=100, max_wait=1000, jitter=0.5)
    fault = {"class": "overloaded", "message": "529"}
    waits = [seconds_until(resume_time(fault, 1, settings)) for _ in range(200)]
    assert all(99.9 <= w <= 150.1 for w in waits), (min(waits), max(waits))
    assert max(waits) - min(waits) > 10  # spread out, not one second for every TaskSpec
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    limit = {"class": "usage_limit", "resets_at": reset.strftime("%Y-%m-%dT%H:%M:%SZ")}
    added = [(resume_time(limit, 1, settings) - reset).total_seconds() for _ in range(50)]
    assert all(0 <= a <= 150.01 for a in added), max(added)  # of the first 300 s only


def test_one_breaker_opens_once_and_lets_one_probe_through(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    settings = ProvidersConfig(backoff=0.05, max_wait=1, jitter=0)
    fault = {"class": "rate_limited", "message": "429"}
    assert gate(layout, "p", "T1").verdict == "go"
    opened = faulted(layout, "p", fault, settings)
    assert (opened.state, opened.failures) == ("open", 1)
    assert gate(layout, "p", "T2").verdict == "wait"
    until = datetime.fromisoformat(str(opened.until).replace("Z", "+00:00"))
    time.sleep(max(0.0, seconds_until(until)) + 0.01)  # the 50 ms backoff
    first, second = gate(layout, "p", "T2"), gate(layout, "p", "T3")
    assert (first.verdict, first.probe) == ("go", True)
    assert second.verdict == "wait"  # T2 probes; T3 waits for its answer
    answered(layout, "p")
    assert gate(layout, "p", "T3").verdict == "go"


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_a_run_gets_auth_retries_of_its_clis_own_then_it_is_ended(retries: int) -> None:
    ended: list[bool] = []
    env = {"HATCHDOIT_AUTH_RETRIES": str(retries)}
    watch = StreamWatch("claude", env, lambda: ended.append(True))
    retry = {
        "type": "system",
        "subtype": "api_retry",
        "attempt": 1,
        "max_retries": 10,
        "retry_delay_ms": 500,
        "error_status": 401,
        "error": "authentication_failed",
    }
    for _ in range(retries):
        watch.see(retry)
    assert not ended  # the CLI's first `retries` tries are its own (an OAuth refresh)
    watch.see(retry)
    assert ended == [True] and watch.ended is not None and watch.ended["class"] == "auth"
