"""The stop hook (scripts/agent/stop_hook.sh -> hatchdoit.agents.stop_hook): the guard that blocks a
Claude Code stop without a summary or verdict, StopFailure / SessionEnd, the notes a headless
runner collects; the marker hook; and the headless runner's decisions (hatchdoit.headless)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from projects import CHECKOUT

from hatchdoit.agents import headless
from hatchdoit.agents.transcript import transcript_usage
from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS
from hatchdoit.records.models import StopRecord
from hatchdoit.records.schemas import load_valid

STOP_HOOK = BUNDLED_SCRIPTS / "agent" / "stop_hook.sh"
MARKER_HOOK = BUNDLED_SCRIPTS / "agent" / "marker_hook.sh"

# --------------------------------------------------------------------------------------------
# the stop hook: guard, events, notes


def hook_env(tmp_path: Path, role: str = "factory", guard: int = 2) -> dict[str, str]:
    """As a build sets it: everything the hook writes is in the run's output directory."""
    logs = tmp_path / "_logs"
    out = logs / "runs" / "T1" / f"{role}-001"
    return {
        "PATH": os.environ["PATH"],
        "HATCHDOIT_STOP_FILE": str(out / "stop.json"),
        "HATCHDOIT_RUN_TOKEN": "tok-1",
        "HATCHDOIT_TASKSPEC_ID": "T1",
        "HATCHDOIT_ROLE": role,
        "HATCHDOIT_ATTEMPT": "1",
        "HATCHDOIT_PYTHON": sys.executable,
        # as in a build: the hook's Python starts without site-packages (-S)
        "HATCHDOIT_SOURCE": str(CHECKOUT),
        "HATCHDOIT_LOGS_DIR": str(logs),
        "HATCHDOIT_LOC_CAP": "120",
        "HATCHDOIT_SUMMARY_FILE": str(out / "summary.json"),
        "HATCHDOIT_VERDICT_FILE": str(out / "verdict.json"),
        "HATCHDOIT_STOP_GUARD": str(guard),
    }


def call_hook(env: dict[str, str], event: str, payload: dict[str, Any]) -> str:
    done = subprocess.run(
        [str(STOP_HOOK), event], input=json.dumps(payload), env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def summary(iteration: int = 1) -> dict[str, Any]:
    return {
        "taskspec_id": "T1",
        "agent_type": "factory",
        "iteration": iteration,
        "status": "completed",
        "implementation_files": ["a.py"],
        "test_results": {"passed": 1, "failed": 0},
        "loc_analysis": {"actual": 3, "cap": 120},
        "next_steps": [],
        "handover_notes": "",
    }


def stop_record(env: dict[str, str]) -> StopRecord:
    return load_valid(Path(env["HATCHDOIT_STOP_FILE"]), StopRecord)


def test_stop_without_summary_is_blocked_with_exact_instructions(tmp_path: Path) -> None:
    env = hook_env(tmp_path)
    stop_file, summary_file = Path(env["HATCHDOIT_STOP_FILE"]), Path(env["HATCHDOIT_SUMMARY_FILE"])
    answer = json.loads(call_hook(env, "Stop", {"session_id": "s1", "stop_hook_active": False}))
    assert answer["decision"] == "block"
    assert f"`{summary_file}`" in answer["reason"] and '"cap": 120' in answer["reason"]
    assert "missing" in answer["reason"]
    assert not stop_file.exists(), "a blocked stop is not a stop"

    # The agent ignored it and tries again: honour stop_hook_active, let it stop.
    assert call_hook(env, "Stop", {"session_id": "s1", "stop_hook_active": True}) == ""
    assert stop_record(env).event == "stop"
    guard = json.loads(stop_file.with_name("stop.guard.json").read_text())
    assert guard["blocks"] == 1
    # the hook wrote its log lines into the run's output directory and nothing else anywhere:
    # hatchdoit writes the audit events when it takes the stop (steps/run_output.py)
    log = [json.loads(x) for x in stop_file.with_name("hooks.jsonl").read_text().splitlines()]
    assert [e["msg"] for e in log][:1] == ["stop guard blocked the stop"]
    assert log[-1]["msg"] == "stop hook: stop"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert all(name.startswith("_logs/runs/T1/factory-001/") for name in written), written


@pytest.mark.parametrize("no_site", [True, False], ids=["python -S", "python with site"])
def test_guard_blocks_a_changed_problem_up_to_its_limit(tmp_path: Path, no_site: bool) -> None:
    """The guard validates with pydantic: also when the hook's Python started without
    site-packages (it loads them itself), and when run without HATCHDOIT_SOURCE."""
    env = hook_env(tmp_path)
    if not no_site:
        del env["HATCHDOIT_SOURCE"]
    summary_file = Path(env["HATCHDOIT_SUMMARY_FILE"])
    assert "missing" in json.loads(call_hook(env, "Stop", {}))["reason"]
    summary_file.parent.mkdir(parents=True, exist_ok=True)
    summary_file.write_text(json.dumps(summary(iteration=2)))
    reason = json.loads(call_hook(env, "Stop", {"stop_hook_active": True}))["reason"]
    assert "names T1 attempt 2, expected T1 attempt 1" in reason
    summary_file.write_text("{not json")
    assert call_hook(env, "Stop", {"stop_hook_active": True}) == "", "limit of 2 reached"
    assert stop_record(env).event == "stop"


def test_valid_summary_lets_the_agent_stop_and_records_the_session(tmp_path: Path) -> None:
    env = hook_env(tmp_path)
    summary_file = Path(env["HATCHDOIT_SUMMARY_FILE"])
    summary_file.parent.mkdir(parents=True)
    summary_file.write_text(json.dumps(summary()))
    transcript = tmp_path / "t.jsonl"
    lines = [
        {"type": "user", "message": {"role": "user", "content": "hi"}},
        {
            "type": "assistant",
            "message": {
                "id": "m1",
                "model": "claude-x",
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
        {
            "type": "assistant",
            "message": {
                "id": "m1",
                "model": "claude-x",
                "usage": {"input_tokens": 10, "output_tokens": 4},
            },
        },
        {
            "type": "assistant",
            "message": {
                "id": "m2",
                "model": "claude-x",
                "usage": {"input_tokens": 30, "output_tokens": 6},
            },
        },
    ]
    transcript.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    payload = {
        "session_id": "s1",
        "transcript_path": str(transcript),
        "hook_event_name": "Stop",
        "stop_hook_active": False,
        "last_assistant_message": "Done.",
    }
    assert call_hook(env, "Stop", payload) == ""
    stop = stop_record(env)
    assert stop.event == "stop" and stop.source == "hook" and stop.run_token == "tok-1"
    assert stop.payload["session_id"] == "s1" and stop.payload["last_assistant_message"] == "Done."
    assert stop.payload["stop_reason"] == "end_turn" and stop.payload["num_turns"] == 2
    assert (
        stop.payload["usage"]["input_tokens"] == 40 and stop.payload["usage"]["output_tokens"] == 10
    )
    assert stop.payload["model"] == "claude-x"


def test_transcript_lines_holding_unicode_line_separators_still_count(tmp_path: Path) -> None:
    """Claude Code writes U+2028, U+2029 and U+0085 raw inside its JSON lines (TaskSpec text the
    model quotes): only '\\n' ends a line, or that message's usage would be lost."""
    transcript = tmp_path / "t.jsonl"
    message = {
        "id": "m1",
        "model": "claude-x",
        "content": [{"type": "text", "text": "a\u2028b\u2029c\x85d\x0be\x1cf"}],
        "usage": {"input_tokens": 7, "output_tokens": 3},
    }
    line = json.dumps({"type": "assistant", "message": message}, ensure_ascii=False)
    transcript.write_text(line + "\n", encoding="utf-8")
    found = transcript_usage(transcript)
    assert found["num_turns"] == 1 and found["usage"]["input_tokens"] == 7, found


def test_qa_guard_asks_for_the_verdict(tmp_path: Path) -> None:
    env = hook_env(tmp_path, role="qa")
    reason = json.loads(call_hook(env, "Stop", {}))["reason"]
    assert (
        reason.startswith("hatchdoit-verdict-required") and env["HATCHDOIT_VERDICT_FILE"] in reason
    )


def test_without_a_guard_nothing_blocks(tmp_path: Path) -> None:
    env = hook_env(tmp_path, guard=0)
    assert call_hook(env, "stop", {"hook_event_name": "Stop"}) == ""
    assert stop_record(env).event == "stop"


def test_stop_failure_and_session_end(tmp_path: Path) -> None:
    env = hook_env(tmp_path)
    call_hook(env, "SessionEnd", {"reason": "prompt_input_exit"})
    assert stop_record(env).event == "session_end"
    Path(env["HATCHDOIT_STOP_FILE"]).unlink()
    failure = {
        "hook_event_name": "StopFailure",
        "error": "server_error",
        "last_assistant_message": "API Error: 529",
    }
    assert call_hook(env, "StopFailure", failure) == ""
    stop = stop_record(env)
    assert stop.event == "stop_failure" and stop.reason == "server_error"
    assert stop.payload["stop_reason"] == "server_error"
    call_hook(env, "SessionEnd", {"reason": "other"})
    assert stop_record(env).event == "stop_failure", "a session end after the stop is only logged"


def test_notes_mode_leaves_the_stop_to_the_runner(tmp_path: Path) -> None:
    env = hook_env(tmp_path, guard=0)
    notes = tmp_path / "notes.jsonl"
    env["HATCHDOIT_HOOK_NOTES"] = str(notes)
    call_hook(env, "agent-turn-complete", {"type": "agent-turn-complete", "thread-id": "th"})
    assert not Path(env["HATCHDOIT_STOP_FILE"]).exists()
    note = json.loads(notes.read_text())
    assert note["event"] == "stop" and note["session_id"] == "th"


def test_marker_hook_writes_ready_and_counts_prompts(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HATCHDOIT_READY_FILE": str(tmp_path / "m" / "r"),
        "HATCHDOIT_SUBMITTED_FILE": str(tmp_path / "m" / "s"),
    }
    for kind in ("ready", "submitted", "submitted"):
        done = subprocess.run(
            [str(MARKER_HOOK), kind], input="{}", env=env, capture_output=True, text=True
        )
        assert done.returncode == 0 and done.stdout == "", done.stderr
    assert (tmp_path / "m" / "r").read_text().strip() == "1"
    assert (tmp_path / "m" / "s").read_text().strip() == "2"
    assert subprocess.run([str(MARKER_HOOK), "other"], env=env, capture_output=True).returncode == 2
    assert (
        subprocess.run(
            [str(MARKER_HOOK), "ready"], env={"PATH": "/usr/bin:/bin"}, capture_output=True
        ).returncode
        == 2
    )


# --------------------------------------------------------------------------------------------
# the headless runner


def test_runner_decisions() -> None:
    result = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "session_id": "s",
        "num_turns": 3,
        "total_cost_usd": 0.5,
        "usage": {"input_tokens": 9},
        "result": "ok",
    }
    out = headless.decide("claude", [result], [{"event": "stop", "transcript_path": "/t"}], 0)
    assert out.event == "stop" and out.payload["total_cost_usd"] == 0.5
    assert out.payload["transcript_path"] == "/t" and out.payload["last_assistant_message"] == "ok"
    failed = {**result, "is_error": True, "api_error_status": 529}
    assert headless.decide("claude", [failed], [], 1).event == "stop_failure"
    assert (
        headless.decide(
            "claude", [result], [{"event": "stop_failure", "stop_reason": "rate_limit"}], 0
        ).event
        == "stop_failure"
    )
    assert headless.decide("claude", [], [], 1).event is None
    turn = [
        {"type": "thread.started", "thread_id": "th"},
        {"type": "turn.completed", "usage": {"input_tokens": 5, "cached_input_tokens": 2}},
    ]
    codex = headless.decide("codex", turn, [], 0)
    assert codex.event == "stop" and codex.payload["usage"] == {
        "input_tokens": 3,  # the fresh input: Codex counts the 2 cached inside its 5
        "output_tokens": 0,
        "cache_read_input_tokens": 2,
    }
    assert (
        headless.decide(
            "codex", [{"type": "turn.failed", "error": {"message": "boom"}}], [], 1
        ).reason
        == "boom"
    )
    assert headless.decide("plain", [], [], 0).event == "stop"
    assert headless.decide("plain", [], [], 3).event is None
