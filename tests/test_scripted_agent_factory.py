"""The bundled scripted agent as factory, driven for real on a pty: its prompt reader, the ready
banner and submit counter, and each behaviour (succeed, QA feedback, fail-tests, exceed-loc,
skip-summary, a blocking Stop hook, bad summaries, crash, hang) and unsafe file block paths.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from scripted_agent_pty import (
    AGENT,
    DEMO,
    LOC_CAP,
    RUN_TOKEN,
    TASK_ID,
    TIMEOUT,
    Agent,
    file_block,
    git_env,
    git_out,
    make_repo,
    request,
    start_agent,
    wait_until,
)

pytestmark = pytest.mark.integration

__all__ = ["git_env", "start_agent"]  # fixtures


def load_agent_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scripted_agent", AGENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_prompt_reader_handles_split_markers_utf8_and_enter() -> None:
    reader = load_agent_module().PromptReader()
    data = "\x1b[200~é line1\rline2\r\nline3\x1b[201~".encode()
    assert reader.feed(b"\r") == []  # Enter with nothing typed is ignored
    events = [event for i in range(len(data)) for event in reader.feed(data[i : i + 1])]
    assert events == []
    assert reader.feed(b"\r") == ["é line1\nline2\nline3".encode()]
    assert reader.feed(b"typed\x1b!\n") == [b"typed!"]  # typed keys count, a lone ESC not
    assert reader.feed(b"\x03") == [None]


def test_ready_banner_and_submit_counter(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent()
    assert (agent.files / "ready").read_text() == "1"
    assert f"scripted agent factory {TASK_ID} attempt 1 behaviour succeed" in agent.transcript
    assert "\x1b[?2004h" in agent.transcript
    os.write(agent.master, b"\r")  # an empty Enter submits nothing
    agent.ask(request("implement", "No files this time."))
    assert agent.submitted() == "1"
    agent.ask(request("implement", "Still none."), stops=2)
    assert agent.submitted() == "2"
    assert "received prompt 2 (" in agent.transcript
    notes = (agent.repo / "hatchdoit_notes" / f"{TASK_ID}.md").read_text().splitlines()
    assert len(notes) == 2 and all("attempt 1" in line for line in notes)
    assert agent.proc.poll() is None  # stays open like a TUI


def test_succeed_writes_files_commits_summary_and_calls_stop_hook(
    start_agent: Callable[..., Agent], git_env: dict[str, str]
) -> None:
    agent = start_agent()
    body = file_block("src/pkg/mod.py", 'def hello() -> str:\n    return "héllo"\n') + file_block(
        "tests/test_mod.py", "import unittest\n"
    )
    payload = agent.ask(request("implement", body))
    assert (agent.repo / "src/pkg/mod.py").read_text().endswith('return "héllo"\n')
    assert git_out(agent.repo, git_env, "log", "-1", "--format=%an <%ae>|%s") == (
        f"scripted-agent <scripted@localhost>|scripted factory: {TASK_ID} attempt 1"
    )
    assert git_out(agent.repo, git_env, "status", "--porcelain") == ""
    summary = agent.json_file("summary.json")
    assert summary == {
        "taskspec_id": TASK_ID,
        "agent_type": "factory",
        "iteration": 1,
        "status": "completed",
        "implementation_files": ["src/pkg/mod.py", "tests/test_mod.py"],
        "test_results": {"passed": 0, "failed": 0},
        "loc_analysis": {"actual": 3, "cap": LOC_CAP},
        "next_steps": ["QA validation required"],
        "handover_notes": summary["handover_notes"],
    }
    argv, _ = agent.hook_calls()[0]
    assert argv == ["stop"]
    assert payload["hook_event_name"] == "Stop"
    assert payload["session_id"] == f"scripted-{RUN_TOKEN}"
    assert payload["stop_hook_active"] is False
    assert Path(payload["cwd"]).resolve() == agent.repo.resolve()
    assert payload["last_assistant_message"] and "\n" not in payload["last_assistant_message"]


def test_qa_feedback_is_reflected_in_handover_notes(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(attempt=2)
    feedback = "Add a docstring to each new public function.\nAnd more detail."
    agent.ask(request("implement", file_block("a.py", "x = 1\n"), feedback=feedback))
    summary = agent.json_file("summary.json")
    assert summary["iteration"] == 2
    assert summary["handover_notes"] == (
        "addressed QA feedback: Add a docstring to each new public function."
    )


def test_fail_tests_adds_a_failing_test_both_runners_find(
    start_agent: Callable[..., Agent], tmp_path: Path, git_env: dict[str, str]
) -> None:
    repo = make_repo(tmp_path / "seeded", git_env, seed=DEMO / "target")
    agent = start_agent(behaviour="fail-tests", repo=repo)
    agent.ask(request("implement", "Nothing but the failure."))
    assert agent.json_file("summary.json")["test_results"] == {"passed": 0, "failed": 1}
    assert (repo / "tests/test_zz_scripted_failure.py").exists()
    unit = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-q"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert unit.returncode != 0 and "scripted failure" in unit.stderr
    py = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert py.returncode == 1 and "1 failed, 1 passed" in py.stdout


def test_exceed_loc_writes_a_bulk_file(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="exceed-loc")
    agent.ask(request("implement", file_block("a.py", "x = 1\n")))
    assert len((agent.repo / "scripted_bulk.txt").read_text().splitlines()) == LOC_CAP + 50
    assert agent.json_file("summary.json")["loc_analysis"] == {
        "actual": LOC_CAP + 51,
        "cap": LOC_CAP,
    }


def test_skip_summary_writes_it_only_when_asked(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="skip-summary")
    agent.ask(request("implement", file_block("a.py", "x = 1\n")))
    assert not (agent.files / "summary.json").exists()
    agent.ask(request("summary"), stops=2)
    assert agent.submitted() == "2"
    summary = agent.json_file("summary.json")
    assert summary["implementation_files"] == ["a.py"] and summary["status"] == "completed"


def test_stop_hook_block_makes_the_agent_continue(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="skip-summary", HOOK_BLOCK_FIRST="write your summary now")
    agent.ask(request("implement", file_block("a.py", "x = 1\n")))
    second = agent.wait_for_stop(2)
    assert second["stop_hook_active"] is True
    assert agent.json_file("summary.json")["taskspec_id"] == TASK_ID
    assert agent.submitted() == "1"  # a hook continuation is not a submitted prompt


@pytest.mark.parametrize("behaviour", ["malformed-summary", "never-summary"])
def test_bad_summaries_stay_bad(start_agent: Callable[..., Agent], behaviour: str) -> None:
    agent = start_agent(behaviour=behaviour)
    summary = agent.files / "summary.json"
    for stops, kind in enumerate(["implement", "summary"], start=1):
        agent.ask(request(kind, file_block("a.py", "x = 1\n")), stops=stops)
        if behaviour == "never-summary":
            assert not summary.exists()
        else:
            assert summary.read_text() == f'{{"taskspec_id": "{TASK_ID}", "status": '


def test_crash_exits_3_without_stop_hook(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="crash")
    agent.paste(request("implement", file_block("a.py", "x = 1\n")))
    assert agent.proc.wait(timeout=TIMEOUT) == 3
    assert agent.submitted() == "1"
    wait_until(lambda: "crashing" in agent.transcript, "crash message")
    assert agent.hook_calls() == []
    assert not (agent.repo / "a.py").exists()


def test_hang_goes_quiet_without_stop_hook(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="hang")
    agent.paste(request("implement"))
    wait_until(lambda: agent.submitted() == "1", "submitted 1")
    with pytest.raises(AssertionError):  # a negative: nothing may happen within a short window
        wait_until(lambda: bool(agent.hook_calls()) or agent.proc.poll() is not None, "", 0.5)


def test_unsafe_file_block_paths_are_refused(
    start_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    agent = start_agent()
    evil = tmp_path / "absolute.py"
    body = "".join(
        file_block(p, "boom = 1\n")
        for p in [
            "../escape.py",
            str(evil),
            ".git/hooks/post-commit",
            "src/../../up.py",
            "ok/fine.txt",
        ]
    )
    agent.ask(request("implement", body))
    assert (agent.repo / "ok/fine.txt").read_text() == "boom = 1\n"
    assert not (tmp_path / "escape.py").exists() and not evil.exists()
    assert not (agent.repo / ".git/hooks/post-commit").exists()
    assert agent.transcript.count("refusing to write") == 4
    assert agent.json_file("summary.json")["implementation_files"] == ["ok/fine.txt"]
