"""What the pinned CLIs emit when their API fails (docs/provider-signals.md has the whole record):
the real Claude Code and Codex, headless as hatchdoit's profiles run them, against the stand-ins
failing on purpose. Each test stops the CLI as soon as the signal it pins was seen, so a CLI that
would go on retrying for minutes costs seconds; these skip only when node/npm are missing.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from claude_code_cli import pinned_claude_code
from codex_cli import pinned_codex
from fake_anthropic import FakeAnthropic
from fake_openai import FakeOpenAI
from provider_runs import run_claude, run_claude_tui, run_codex

from hatchdoit.agents.headless import decide

pytestmark = pytest.mark.integration

FAST_CODEX = {"request_max_retries": 0, "stream_max_retries": 1}


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    return pinned_claude_code()


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    return pinned_codex()


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(lifetime=120) as fake:
        yield fake


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(lifetime=120) as fake:
        yield fake


def is_retry(event: dict[str, Any]) -> bool:
    return event.get("type") == "system" and event.get("subtype") == "api_retry"


def is_result(event: dict[str, Any]) -> bool:
    return event.get("type") == "result"


def clock(epoch: float) -> str:
    """Codex's "try again at" time (TZ=UTC in provider_runs): the time of day, with the date
    when the reset is not today."""
    at = datetime.fromtimestamp(epoch, UTC)
    if at.date() == datetime.now(UTC).date():
        return at.strftime("%-I:%M %p")
    suffix = "th" if 11 <= at.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(at.day % 10, "th")
    return at.strftime(f"%b %-d{suffix}, %Y %-I:%M %p")


# --- Claude Code 2.1.330 -----------------------------------------------------------------------


def test_claude_401_is_an_api_retry_with_error_status_401_within_seconds(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    anthropic.faults.add("unauthorized", None)
    out = run_claude(claude_bin, anthropic, tmp_path, timeout=30, stop_when=is_retry)
    seen = out.run.first(is_retry)
    assert seen is not None, out.run.kinds()
    at, retry = seen
    assert at < 5, f"first api_retry after {at:.1f}s"
    assert {k: retry[k] for k in ("attempt", "max_retries", "error_status", "error")} == {
        "attempt": 1,
        "max_retries": 10,
        "error_status": 401,
        "error": "authentication_failed",
    }
    assert 0 < retry["retry_delay_ms"] < 2000


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("overloaded", 529, "overloaded"),
        ("server_error", 500, "server_error"),
        ("disconnect", None, "unknown"),
        ("stream_cut", None, "unknown"),
    ],
)
def test_claude_outages_are_api_retries_within_seconds(
    claude_bin: Path,
    anthropic: FakeAnthropic,
    tmp_path: Path,
    fault: str,
    status: int | None,
    error: str,
) -> None:
    anthropic.faults.add(fault, None)
    out = run_claude(claude_bin, anthropic, tmp_path, timeout=30, stop_when=is_retry)
    seen = out.run.first(is_retry)
    assert seen is not None, out.run.kinds()
    assert seen[0] < 5
    assert (seen[1]["error_status"], seen[1]["error"]) == (status, error)


def test_claude_dropped_connection_without_retries_is_connection_failed(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    anthropic.faults.add("disconnect", None)
    out = run_claude(
        claude_bin, anthropic, tmp_path, env={"CLAUDE_CODE_MAX_RETRIES": "0"}, timeout=30
    )
    result = out.run.of("result")[-1]
    assert result["is_error"] is True and result["api_error_status"] is None
    assert result["api_error"] == "connection_failed"
    assert result["result"].startswith("API Error: Connection dropped (ECONNRESET).")


def test_claude_rate_limit_is_retried_after_its_retry_after_then_succeeds(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    anthropic.faults.add("rate_limit", 1, retry_after=1)
    out = run_claude(claude_bin, anthropic, tmp_path, timeout=40)
    retries = out.run.of("system", "api_retry")
    assert [(r["error_status"], r["error"]) for r in retries] == [(429, "rate_limit")]
    assert 1000 <= retries[0]["retry_delay_ms"] <= 1500  # retry-after 1 s (+ up to 25% jitter)
    result = out.run.of("result")[-1]
    assert result["is_error"] is False and out.run.exit_code == 0
    assert [s.status for s in out.requests] == [429, 200]


def test_claude_usage_limit_far_off_is_a_rejected_rate_limit_event_with_its_reset(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """As a claude.ai subscription or an LLM gateway sees it: no retries, a rate_limit_event
    `rejected` with the reset, and a failed result saying "You've hit your 5-hour limit"."""
    resets_at = anthropic.faults.add("usage_limit", None, reset_in=3600).peek()
    assert resets_at is not None
    out = run_claude(claude_bin, anthropic, tmp_path, auth="gateway", timeout=30)
    events = out.run.of("rate_limit_event")
    assert len(events) == 1, out.run.kinds()
    info = events[0]["rate_limit_info"]
    assert info["status"] == "rejected" and info["rateLimitType"] == "five_hour"
    assert info["resetsAt"] == resets_at.resets_at
    result = out.run.of("result")[-1]
    assert result["is_error"] is True and result["subtype"] == "success"
    assert result["api_error_status"] == 429 and result["api_error"] == "usage_limit_reached"
    assert result["result"].startswith("You've hit your 5-hour limit · resets ")
    assert out.run.of("system", "api_retry") == [] and out.run.exit_code == 1
    assert out.run.elapsed < 15
    # print mode fires StopFailure without waiting for it: it mostly loses the race with the
    # exit (docs/provider-signals.md); SessionEnd is waited for
    assert out.hook_events()[-1:] == ["SessionEnd"], out.hooks
    assert all(h["error"] == "rate_limit" for h in out.hooks if "error" in h), out.hooks
    # hatchdoit's headless runner makes it a stop_failure (today with the reason "API error 429")
    assert decide("claude", [e for _, e in out.run.events], [], 1).event == "stop_failure"


def test_claude_subscription_usage_limit_is_refused_at_once_however_near_its_reset(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fault = anthropic.faults.add("usage_limit", None, reset_in=5).peek()
    assert fault is not None
    out = run_claude(claude_bin, anthropic, tmp_path, auth="oauth", timeout=30)
    info = [e["rate_limit_info"] for e in out.run.of("rate_limit_event")]
    assert [(i["status"], i["resetsAt"]) for i in info] == [("rejected", fault.resets_at)]
    assert out.run.of("result")[-1]["api_error"] == "usage_limit_reached"
    assert out.run.of("system", "api_retry") == [] and len(out.requests) == 1


def test_claude_usage_limit_with_an_api_key_is_a_plain_429(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """An API-key login does not read the plan limiter's headers: no rate_limit_event, and a
    retry-after over a minute is not waited for."""
    anthropic.faults.add("usage_limit", None, reset_in=3600)
    out = run_claude(claude_bin, anthropic, tmp_path, auth="key", timeout=30)
    assert out.run.of("rate_limit_event") == [] and out.run.of("system", "api_retry") == []
    result = out.run.of("result")[-1]
    assert result["is_error"] is True and result["api_error_status"] == 429
    assert "api_error" not in result
    assert result["result"].startswith("API Error: Request rejected (429)")


def test_claude_usage_limit_resetting_within_a_minute_is_waited_for(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """A reset (retry-after) up to 60 s ahead: Claude Code waits for it itself, one api_retry
    with the wait in retry_delay_ms, and goes on: no rate_limit_event `rejected`."""
    anthropic.faults.add("usage_limit", None, reset_in=3)
    out = run_claude(claude_bin, anthropic, tmp_path, auth="gateway", timeout=40)
    retries = out.run.of("system", "api_retry")
    assert [(r["error_status"], r["error"]) for r in retries] == [(429, "rate_limit")]
    assert 2000 <= retries[0]["retry_delay_ms"] <= 8000  # measured: reset + up to ~45%
    statuses = [e["rate_limit_info"]["status"] for e in out.run.of("rate_limit_event")]
    assert "rejected" not in statuses
    assert out.run.of("result")[-1]["is_error"] is False and out.run.exit_code == 0


def test_claude_out_of_credit_is_a_billing_error_without_retries(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    anthropic.faults.add("billing", None)
    out = run_claude(claude_bin, anthropic, tmp_path, timeout=30)
    errors = [e for e in out.run.of("assistant") if e.get("error")]
    assert [(e["error"], e["api_error_status"]) for e in errors] == [("billing_error", 400)]
    result = out.run.of("result")[-1]
    assert result["is_error"] is True and result["api_error_status"] == 400
    assert result["result"] == "Credit balance is too low"
    assert out.run.of("system", "api_retry") == [] and len(out.requests) == 1


# --- Codex 0.171.0 ----------------------------------------------------------------------------


def failed_message(out: Any) -> str:
    failed = out.run.of("turn.failed")
    assert failed, out.run.kinds()
    return str(failed[-1]["error"]["message"])


def test_codex_usage_limit_is_turn_failed_with_the_reset_time_of_day(
    codex_bin: Path, openai: FakeOpenAI, tmp_path: Path
) -> None:
    fault = openai.faults.add("usage_limit", None, reset_in=1800).peek()
    assert fault is not None
    out = run_codex(codex_bin, openai, tmp_path, timeout=30)
    message = failed_message(out)
    # a curly apostrophe, the plan's upsell, and the reset to the minute in local time
    assert message.startswith("You\u2019ve hit your usage limit.")
    assert message.endswith(f"try again at {clock(fault.resets_at)}.")
    assert [e["message"] for e in out.run.of("error")] == [message]
    assert len(out.requests) == 1 and out.run.exit_code == 1
    assert decide("codex", [e for _, e in out.run.events], [], 1).event == "stop_failure"


def test_codex_401_is_retried_then_turn_failed_unexpected_status(
    codex_bin: Path, openai: FakeOpenAI, tmp_path: Path
) -> None:
    openai.faults.add("unauthorized", None)
    out = run_codex(codex_bin, openai, tmp_path, provider=FAST_CODEX, timeout=30)
    errors = [e["message"] for e in out.run.of("error")]
    assert errors[0].startswith("Reconnecting... 1/1 (unexpected status 401 Unauthorized: ")
    assert failed_message(out).startswith("unexpected status 401 Unauthorized: Incorrect API key")
    assert out.run.exit_code == 1


def test_codex_rate_limit_then_recovery_ends_in_turn_completed(
    codex_bin: Path, openai: FakeOpenAI, tmp_path: Path
) -> None:
    openai.faults.add("rate_limit", 1)
    out = run_codex(codex_bin, openai, tmp_path, timeout=30)
    errors = [e["message"] for e in out.run.of("error")]
    assert len(errors) == 1 and re.match(
        r"Reconnecting\.\.\. 1/5 \(exceeded retry limit, last status: 429 Too Many Requests",
        errors[0],
    )
    assert out.run.kinds()[-1] == "turn.completed" and out.run.exit_code == 0
    # an `error` line does not make the run a failure when the turn completes after it
    assert decide("codex", [e for _, e in out.run.events], [], 0).event == "stop"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("overloaded", "Selected model is at capacity. Please try a different model."),
        (
            "server_error",
            "We\u2019re currently experiencing high demand, which may cause temporary errors.",
        ),
        ("disconnect", "stream disconnected before completion: error sending request"),
        ("billing", "Quota exceeded. Check your plan and billing details."),
    ],
)
def test_codex_outage_messages(
    codex_bin: Path, openai: FakeOpenAI, tmp_path: Path, fault: str, message: str
) -> None:
    openai.faults.add(fault, None)
    start = time.monotonic()
    out = run_codex(codex_bin, openai, tmp_path, provider=FAST_CODEX, timeout=60)
    assert failed_message(out) == message and out.run.exit_code == 1
    assert time.monotonic() - start < 30


def test_claude_tui_at_a_usage_limit_shows_it_and_fires_stop_failure(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """The interactive TUI (as the claude-code profile runs it): the limit and its reset on
    screen, and a StopFailure hook with `error: rate_limit` (print mode fires none)."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    anthropic.faults.add("usage_limit", None, reset_in=3600)
    out = run_claude_tui(claude_bin, anthropic, tmp_path, auth="gateway", timeout=60)
    failure = out.hook("StopFailure")
    assert failure is not None, out.hooks
    assert failure["error"] == "rate_limit"
    assert failure["last_assistant_message"].startswith("You've hit your 5-hour limit · resets ")
    assert "You've hit your 5-hour limit · resets " in out.pane
    assert out.hook("Stop") is None


# --- With the CLIs' default retries: minutes (pytest -m slow) --------------------------------


@pytest.mark.slow
def test_claude_401_gives_up_after_ten_retries_in_about_three_minutes(
    claude_bin: Path, anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    anthropic.faults.add("unauthorized", None)
    out = run_claude(claude_bin, anthropic, tmp_path, timeout=400)
    retries = out.run.of("system", "api_retry")
    assert [r["attempt"] for r in retries] == list(range(1, 11))
    assert {(r["error_status"], r["error"]) for r in retries} == {(401, "authentication_failed")}
    result = out.run.of("result")[-1]
    assert result["api_error_status"] == 401
    assert result["result"] == "Invalid API key · Fix external API key"
    assert 120 < out.run.elapsed < 300 and out.run.exit_code == 1
    assert len(out.requests) == 11 and out.hook_events()[-1:] == ["SessionEnd"]
    for hook in out.hooks:  # StopFailure, when it wins the race with the exit
        assert hook["hook_event_name"] == "SessionEnd" or hook["error"] == "authentication_failed"


@pytest.mark.slow
def test_codex_500_with_default_retries_fails_after_thirty_requests(
    codex_bin: Path, openai: FakeOpenAI, tmp_path: Path
) -> None:
    openai.faults.add("server_error", None)
    out = run_codex(codex_bin, openai, tmp_path, timeout=120)
    errors = [e["message"] for e in out.run.of("error")]
    assert [m.split(" (")[0] for m in errors[:5]] == [f"Reconnecting... {n}/5" for n in range(1, 6)]
    assert len(out.requests) == 30  # 6 turn attempts x (4 request retries + 1)
    assert 10 < out.run.elapsed < 90 and out.run.exit_code == 1
