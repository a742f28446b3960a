"""The `codex` profile with the fake `codex` executable of tests/fake_codex.py, which follows
Codex's documented contracts (`codex exec --json ... -`, JSONL events, TOML `-c` overrides, the
`notify` program with its JSON payload).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import events, run_doit
from fake_codex import use_codex, write_fake_codex
from projects import HatchProject, module_body

from hatchdoit.observe.agent_usage import stop_usage
from hatchdoit.records.models import DoneRecord, EscalatedRecord, Receipt, StopRecord, VerdictRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration

TID = "T001-CODEX"


@pytest.fixture
def fake_codex(tmp_path: Path) -> Path:
    return write_fake_codex(tmp_path / "bin")


def stop_of(project: HatchProject, role: str) -> StopRecord:
    return load_valid(project.layout.stop_file(TID, role, 1), StopRecord)  # type: ignore[arg-type]


def test_codex_takes_a_taskspec_to_done(project: HatchProject, fake_codex: Path) -> None:
    argv_file = use_codex(project, fake_codex)
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    done = run_doit(project, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    layout = project.layout
    assert load_valid(layout.done(TID), DoneRecord).attempt == 1
    assert load_valid(layout.verdict(TID, 1), VerdictRecord).verdict == "approved"
    for role, message in (("factory", "Implemented and committed."), ("qa", "Approved.")):
        stop = stop_of(project, role)
        assert stop.source == "hook" and stop.event == "stop", stop
        payload = stop.payload
        assert payload["session_id"].startswith("thread-")
        assert payload["last_assistant_message"] == message
        assert payload["turn-id"] == "turn-1", "the notify note was not merged"
        assert payload["num_turns"] == 1 and payload["exit_code"] == 0
        tokens, _ = stop_usage(stop)
        # input: the fresh input, without the 200 cached (Codex counts them in its 1200)
        assert tokens == {"input": 1000, "cache_read": 200, "output": 80, "total": 1280}
        stream = Path(payload["stream_log"]).read_text().splitlines()
        assert json.loads(stream[-1])["type"] == "turn.completed"
    argv = json.loads(argv_file.read_text())  # the QA run's
    notify = next(a for a in argv if a.startswith("notify="))
    assert notify.endswith('stop_hook.sh", "agent-turn-complete"]')
    assert f'writable_roots=["{layout.run_output(TID, "qa", 1)}"]' in " ".join(argv)
    assert argv[argv.index("--sandbox") + 1] == "workspace-write"
    # the user's ~/.codex was not touched
    assert not (Path(project.env["HOME"]) / ".codex").exists()


def test_codex_turn_failed_is_a_stop_failure(project: HatchProject, fake_codex: Path) -> None:
    use_codex(project, fake_codex)
    body = module_body("greet", "greet", "hello", note="fake-codex: fail")
    project.add_taskspec(TID, body=body, max_attempts=1)
    done = run_doit(project, timeout=120)
    assert done.returncode != 0

    stop = stop_of(project, "factory")
    assert stop.source == "hook" and stop.event == "stop_failure", stop
    assert "the model refused the request" in stop.reason
    assert "provider_fault" not in stop.payload  # the TaskSpec's failure, not the provider's
    receipt = load_valid(project.layout.receipt(TID, "factory", 1), Receipt)
    assert receipt.outcome == "failed"
    assert load_valid(project.layout.escalated(TID), EscalatedRecord).attempts == 1
    assert events(project, "launch", role="qa") == []


def test_fake_codex_answers_version(fake_codex: Path) -> None:
    done = subprocess.run([str(fake_codex), "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == "codex-cli 0.0.0-fake"
