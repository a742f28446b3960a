"""The real Claude Code CLI as factory and QA, fully offline against tests/fake_anthropic.py.

The CLI is pinned and installed by tests/claude_code_cli.py; these tests skip only when node/npm
are missing. Every run is a real `doit` in a temp project with a real tmux server on a private
socket.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from claude_code_cli import pinned_claude_code, use_claude
from conftest import events, read_json, run_doit
from fake_anthropic import FakeAnthropic
from projects import HatchProject, module_body

from hatchdoit.observe.agent_usage import stop_usage
from hatchdoit.records.models import (
    DoneRecord,
    EscalatedRecord,
    Receipt,
    StopRecord,
    SummaryRecord,
    VerdictRecord,
)
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration

TID = "T001-CLAUDE"


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    return pinned_claude_code()


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(max_requests=300, lifetime=240) as fake:
        yield fake


def stop_of(project: HatchProject, role: str, attempt: int = 1) -> StopRecord:
    return load_valid(project.layout.stop_file(TID, role, attempt), StopRecord)  # type: ignore[arg-type]


def receipt_of(project: HatchProject, step: str, attempt: int = 1) -> Receipt:
    return load_valid(project.layout.receipt(TID, step, attempt), Receipt)


def build(project: HatchProject) -> subprocess.CompletedProcess[str]:
    return run_doit(project, timeout=150)


def assert_done(project: HatchProject, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"doit failed:\n{done.stdout}\n{done.stderr}"
    layout = project.layout
    assert load_valid(layout.done(TID), DoneRecord).attempt == 1
    summary = load_valid(layout.summary(TID, 1), SummaryRecord)
    assert summary.taskspec_id == TID and summary.iteration == 1
    assert "src/app/greet.py" in summary.implementation_files
    verdict = load_valid(layout.verdict(TID, 1), VerdictRecord)
    assert verdict.verdict == "approved" and verdict.attempt == 1
    assert (layout.worktree(TID) / "src" / "app" / "greet.py").is_file()
    for role in ("factory", "qa"):
        stop = stop_of(project, role)
        assert stop.source == "hook" and stop.event == "stop", stop
        assert stop.payload["session_id"], stop.payload
        assert Path(stop.payload["transcript_path"]).is_file()
        assert stop.payload["last_assistant_message"] == f"Done ({role})."
        tokens, _ = stop_usage(stop)
        assert tokens.get("input", 0) > 0 and tokens.get("output", 0) > 0, stop.payload
    # hatchdoit never wrote into the user's own Claude config
    home = Path(project.env["HOME"])
    assert not (home / ".claude").exists() and not (home / ".claude.json").exists()


def test_interactive_claude_code_takes_a_taskspec_to_done(
    project: HatchProject, fake_api: FakeAnthropic, claude_bin: Path
) -> None:
    use_claude(project, fake_api, claude_bin, "claude-code")
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    assert_done(project, build(project))

    layout = project.layout
    for role in ("factory", "qa"):
        submitted = events(project, "prompt_submitted", role=role)
        assert len(submitted) == 1, submitted
        assert (layout.marker(TID, role, 1, "submitted")).read_text().strip() == "1"
        assert layout.marker(TID, role, 1, "ready").exists()
        run_dir = layout.logs / "sessions" / TID / f"{role}-001"
        settings = read_json(run_dir / "claude-settings.json")
        assert set(settings["hooks"]) >= {"Stop", "StopFailure", "SessionEnd", "SessionStart"}
        seeded = read_json(run_dir / "claude-home" / ".claude.json")
        assert seeded["projects"][str(layout.worktree(TID))]["hasTrustDialogAccepted"] is True
        assert fake_api.main_requests(role), f"no {role} request reached the fake API"
    assert events(project, "summary_injected") == []
    assert [e["stop_event"] for e in events(project, "agent_stop")][:2] == ["stop", "stop"]


def test_headless_claude_code_takes_a_taskspec_to_done(
    project: HatchProject, fake_api: FakeAnthropic, claude_bin: Path
) -> None:
    # The profile's default permissions (dontAsk + file tools and git in allowedTools), no bypass.
    use_claude(project, fake_api, claude_bin, "claude-code-headless", params={})
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    assert_done(project, build(project))

    for role in ("factory", "qa"):
        stop = stop_of(project, role)
        _, cost = stop_usage(stop)
        assert cost is not None and cost > 0, stop.payload
        assert stop.payload["num_turns"] >= 2 and stop.payload["exit_code"] == 0
        stream = Path(stop.payload["stream_log"])
        lines = [json.loads(line) for line in stream.read_text().splitlines()]
        result = [e for e in lines if e.get("type") == "result"]
        assert result and result[-1]["session_id"] == stop.payload["session_id"]
        usage = result[-1]["usage"]
        assert stop.payload["usage"]["input_tokens"] == usage["input_tokens"]
        assert stop.payload["total_cost_usd"] == result[-1]["total_cost_usd"]
    log = project.layout.worktree(TID)
    assert (
        "fake model"
        in subprocess.run(
            ["git", "-C", str(log), "log", "--format=%s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


@pytest.mark.parametrize("profile", ["claude-code", "claude-code-headless"])
def test_stop_without_summary_is_blocked_until_it_is_written(
    project: HatchProject, fake_api: FakeAnthropic, claude_bin: Path, profile: str
) -> None:
    use_claude(project, fake_api, claude_bin, profile)
    body = module_body("greet", "greet", "hello", note="fake-api: skip-summary")
    project.add_taskspec(TID, body=body, max_attempts=1)
    assert_done(project, build(project))

    blocked = events(project, "stop_blocked", role="factory")
    assert len(blocked) == 1 and "missing" in blocked[0]["problem"], blocked
    guard = read_json(project.layout.run_output(TID, "factory", 1) / "stop.guard.json")
    assert guard["blocks"] == 1
    assert events(project, "summary_injected") == [], "the Stop hook, not the fallback, asked"
    writes = [s for s in fake_api.main_requests("factory") if s.tool == "Write"]
    # the module and its test before the stop; the summary only once the Stop hook asked for it
    assert [s.summary_asked for s in writes] == [False, False, True], writes


@pytest.mark.parametrize("profile", ["claude-code", "claude-code-headless"])
def test_an_api_error_that_is_no_provider_fault_fails_the_attempt(
    project: HatchProject, fake_api: FakeAnthropic, claude_bin: Path, profile: str
) -> None:
    """A request the API refuses for what it holds (400) is the attempt's failure, counted as
    before; the provider's own faults pause instead (test_provider_faults.py)."""
    use_claude(project, fake_api, claude_bin, profile)
    body = module_body("greet", "greet", "hello", note="fake-api: invalid-request")
    project.add_taskspec(TID, body=body, max_attempts=1)
    done = build(project)
    assert done.returncode != 0, done.stdout

    stop = stop_of(project, "factory")
    assert stop.source == "hook" and stop.event == "stop_failure", stop
    factory = receipt_of(project, "factory")
    assert factory.outcome == "failed"
    assert any("stop_failure" in reason for reason in factory.reasons), factory.reasons
    assert load_valid(project.layout.escalated(TID), EscalatedRecord).attempts == 1
    assert {s.status for s in fake_api.main_requests("factory")} == {400}
    assert "provider_fault" not in stop.payload
    assert events(project, "launch", role="qa") == []


def _post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_fake_api_streams_scripted_tool_calls_and_stops_by_itself() -> None:
    """The stand-in itself: SSE event order, a Write tool call from the factory prompt, a side
    request, count_tokens, a scripted 529, and the request budget that shuts it down."""
    prompt = (
        "# TaskSpec T1: x\nYou are the factory agent. Attempt 1 of 2.\n```file:a.py\nx = 1\n```\n"
    )
    tools = [{"name": "Write"}, {"name": "Bash"}]
    with FakeAnthropic(max_requests=4, lifetime=30) as fake:
        url = f"{fake.url}/v1/messages?beta=true"
        body = {
            "model": "m",
            "stream": True,
            "tools": tools,
            "messages": [{"role": "user", "content": prompt}],
        }
        status, raw = _post(url, body)
        assert status == 200
        names = [line[7:] for line in raw.decode().splitlines() if line.startswith("event: ")]
        assert names == [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        assert '"name": "Write"' in raw.decode() and '"stop_reason": "tool_use"' in raw.decode()
        status, raw = _post(
            url, {"model": "m", "messages": [{"role": "user", "content": "title?"}]}
        )
        assert status == 200 and json.loads(raw)["content"][0]["type"] == "text"
        status, raw = _post(f"{fake.url}/v1/messages/count_tokens", body)
        assert status == 200 and json.loads(raw)["input_tokens"] > 0
        failing = {
            **body,
            "messages": [{"role": "user", "content": prompt + "fake-api: overloaded"}],
        }
        status, raw = _post(url, failing)
        assert status == 529 and json.loads(raw)["error"]["type"] == "overloaded_error"
        assert [s.kind for s in fake.seen] == ["main", "side", "count_tokens", "main"]
        status, _ = _post(url, body)  # the fifth request is over budget
        assert status == 529
        assert fake.wait_closed(10), "the fake API did not stop by itself"
