"""A small fake `codex` executable that follows Codex's documented contracts: `codex exec --json
... -` reads the prompt on stdin and prints JSONL events (thread.started, item.completed,
turn.completed with usage, or turn.failed), `-c key=value` overrides are TOML, and the `notify`
program gets the JSON payload as its last argument (type agent-turn-complete). Unlike the real
CLI, which fires notify and forgets it, the fake waits for it, so a test can check that the note
reached the `.stop`.

It writes the TaskSpec's ```` ```file:PATH ```` blocks (inside the worktree or a writable root
only), commits, and writes the summary (factory) or an approving verdict (qa) to the paths the
prompt names; a prompt holding `fake-codex: fail` ends in turn.failed. With FAKE_CODEX_ARGV set it
saves its argv there; with FAKE_CODEX_PROMPTS set it saves the exact bytes it read on stdin as
<dir>/<TaskSpec>-<role>-<attempt>.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from projects import HatchProject

FAKE_CODEX = r'''#!PYTHON
"""Fake codex: `codex --version`, `codex exec --json [options] -` (see tests/fake_codex.py)."""
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
raw = sys.stdin.buffer.read()  # as bytes: text mode could change what arrived
if os.environ.get("FAKE_CODEX_PROMPTS"):
    record = Path(os.environ["FAKE_CODEX_PROMPTS"])
    record.mkdir(parents=True, exist_ok=True)
    name = "-".join(os.environ[f"HATCHDOIT_{k}"] for k in ("TASKSPEC_ID", "ROLE", "ATTEMPT"))
    (record / f"{name}.md").write_bytes(raw)
prompt = raw.decode()
thread = f"thread-{uuid.uuid4().hex[:8]}"
def emit(event):
    print(json.dumps(event), flush=True)
emit({"type": "thread.started", "thread_id": thread})
emit({"type": "turn.started"})
if "fake-codex: fail" in prompt:
    emit({"type": "turn.failed", "error": {"message": "the model refused the request (scripted)"}})
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


def write_fake_codex(directory: Path) -> Path:
    """The fake as `directory`/codex, run by the test's own interpreter."""
    path = directory / "codex"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_CODEX.replace("PYTHON", sys.executable, 1), encoding="utf-8")
    path.chmod(0o755)
    return path


def use_codex(project: HatchProject, fake_codex: Path) -> Path:
    """Make the fake the `codex` of both roles; return the file its argv is saved to."""
    argv_file = project.root.parent / "codex-argv.json"
    project.env.update(
        HATCHDOIT_CODEX_BIN=str(fake_codex), FAKE_CODEX_ARGV=str(argv_file), OPENAI_API_KEY="x"
    )
    project.configure(agents={"factory": "codex", "qa": "codex"})
    return argv_file
