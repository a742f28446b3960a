"""The `codex` profile with a small fake `codex` executable that follows Codex's documented
contracts: `codex exec --json ... -` reads the prompt on stdin and prints JSONL events
(thread.started, item.completed, turn.completed with usage, or turn.failed), `-c key=value`
overrides are TOML, and the `notify` program gets the JSON payload as its last argument
(type agent-turn-complete). Unlike the real CLI, which fires notify and forgets it, the fake
waits for it, so the test can check that the note reached the `.stop`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HatchProject, events, module_body, run_doit

from hatchdoit.metrics import stop_usage
from hatchdoit.records import DoneRecord, EscalatedRecord, Receipt, StopRecord, VerdictRecord
from hatchdoit.schemas import load_valid

pytestmark = pytest.mark.integration

TID = "T001-CODEX"

FAKE_CODEX = r'''#!PYTHON
"""Fake codex: `codex --version`, `codex exec --json [options] -` (see tests/test_codex.py)."""
import json, os, re, subprocess, sys, tomllib, uuid
from pathlib import Path

args = sys.argv[1:]
if args == ["--version"]:
    print("codex-cli 0.0.0-fake")
    sys.exit(0)
Path(os.environ["FAKE_CODEX_ARGV"]).write_text(json.dumps(args))
assert args[:2] == ["exec", "--json"] and args[-1] == "-", args
overrides = {}
cwd = Path.cwd()
for flag, value in zip(args, args[1:]):
    if flag == "-c":
        overrides.update(tomllib.loads(value))
    if flag == "--cd":
        cwd = Path(value)
prompt = sys.stdin.read()
thread = f"thread-{uuid.uuid4().hex[:8]}"
def emit(event):
    print(json.dumps(event), flush=True)
emit({"type": "thread.started", "thread_id": thread})
emit({"type": "turn.started"})
if "fake-codex: fail" in prompt:
    emit({"type": "turn.failed", "error": {"message": "stream disconnected before completion"}})
    sys.exit(1)
writable = [Path(p) for p in overrides.get("sandbox_workspace_write", {}).get("writable_roots", [])]
def write(path, text):
    path = path if path.is_absolute() else cwd / path
    if not (path.is_relative_to(cwd) or any(path.is_relative_to(r) for r in writable)):
        emit({"type": "error", "message": f"sandbox denied writing {path}"})
        sys.exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    emit({"type": "item.completed", "item": {"id": uuid.uuid4().hex[:6], "type": "file_change",
          "changes": [{"path": str(path), "kind": "add"}], "status": "completed"}})
if "You are the factory agent" in prompt:
    files = re.findall(r"^```file:(\S+)\n(.*?)^```$", prompt, re.MULTILINE | re.DOTALL)
    for rel, text in files:
        write(Path(rel), text)
    subprocess.run(["git", "add", "-A"], cwd=cwd, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "fake codex"], cwd=cwd, check=True)
    summary = re.search(r"summary as JSON to\s+`([^`]+)`", prompt).group(1)
    tid = re.search(r"TaskSpec (\S+?):", prompt).group(1)
    attempt = int(re.search(r"Attempt (\d+)", prompt).group(1))
    write(Path(summary), json.dumps({
        "taskspec_id": tid, "agent_type": "factory", "iteration": attempt, "status": "completed",
        "implementation_files": [f for f, _ in files], "test_results": {"passed": 1, "failed": 0},
        "loc_analysis": {"actual": 10, "cap": 200}, "next_steps": [], "handover_notes": "fake"}))
    message = "Implemented and committed."
else:
    verdict = re.search(r"verdict as JSON to `([^`]+)`", prompt).group(1)
    tid = re.search(r"TaskSpec (\S+?):", prompt).group(1)
    attempt = int(re.search(r"\(attempt (\d+)\)", prompt).group(1))
    write(Path(verdict), json.dumps({"taskspec_id": tid, "attempt": attempt,
          "verdict": "approved", "reasons": ["fake codex approves"], "feedback": ""}))
    message = "Approved."
emit({"type": "item.completed", "item": {"id": "msg", "type": "agent_message", "text": message}})
emit({"type": "turn.completed",
      "usage": {"input_tokens": 1200, "cached_input_tokens": 200, "output_tokens": 80}})
notify = overrides.get("notify")
if notify:
    payload = {"type": "agent-turn-complete", "thread-id": thread, "turn-id": "turn-1",
               "cwd": str(cwd), "input-messages": [prompt[:100]],
               "last-assistant-message": message}
    subprocess.run([*notify, json.dumps(payload)], check=False)
'''


@pytest.fixture
def fake_codex(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "codex"
    path.parent.mkdir()
    path.write_text(FAKE_CODEX.replace("PYTHON", sys.executable, 1), encoding="utf-8")
    path.chmod(0o755)
    return path


def use_codex(project: HatchProject, fake_codex: Path) -> Path:
    argv_file = project.root.parent / "codex-argv.json"
    project.env.update(
        HATCHDOIT_CODEX_BIN=str(fake_codex), FAKE_CODEX_ARGV=str(argv_file), OPENAI_API_KEY="x"
    )
    project.configure(agents={"factory": "codex", "qa": "codex"})
    return argv_file


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
        assert tokens == {"input": 1200, "cache_read": 200, "output": 80, "total": 1480}
        stream = Path(payload["stream_log"]).read_text().splitlines()
        assert json.loads(stream[-1])["type"] == "turn.completed"
    argv = json.loads(argv_file.read_text())  # the QA run's
    notify = next(a for a in argv if a.startswith("notify="))
    assert notify.endswith('stop_hook.sh", "agent-turn-complete"]')
    assert f'writable_roots=["{layout.verdict(TID, 1).parent}"]' in " ".join(argv)
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
    assert "stream disconnected" in stop.reason
    receipt = load_valid(project.layout.receipt(TID, "factory", 1), Receipt)
    assert receipt.outcome == "failed"
    assert load_valid(project.layout.escalated(TID), EscalatedRecord).attempts == 1
    assert events(project, "launch", role="qa") == []


def test_fake_codex_answers_version(fake_codex: Path) -> None:
    done = subprocess.run([str(fake_codex), "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == "codex-cli 0.0.0-fake"
