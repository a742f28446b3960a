#!/usr/bin/env python3
"""A deterministic stand-in for an AI coding CLI, run by hatchdoit in a tmux pane.

It acts like an interactive TUI: prompts arrive as bracketed paste, Enter submits, a Stop hook
runs after each answer, and it stays open for the next prompt. What it does is chosen by
HATCHDOIT_BEHAVIOUR. Standard library only; it never imports hatchdoit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import termios
import tty
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
REQUEST_RE = re.compile(r"^<!-- hatchdoit:request=([A-Za-z-]+) -->[ \t]*$", re.MULTILINE)
OPEN_FENCE_RE = re.compile(r"^(`{3,})file:(\S+)[ \t]*$")
FEEDBACK_RE = re.compile(r"^## QA feedback from attempt \d+")
# fmt: off
FACTORY_BEHAVIOURS = ("succeed", "fail-tests", "exceed-loc", "skip-summary", "malformed-summary",
                      "never-summary", "hang", "crash")
# fmt: on
QA_BEHAVIOURS = ("approve", "reject", "reject-once")
MAX_CONTINUATIONS = 3
FAILING_TEST = """import unittest


class ScriptedFailureTest(unittest.TestCase):
    def test_scripted_failure(self) -> None:
        self.fail("scripted failure")
"""

_eol = "\n"  # becomes "\r\n" once the terminal is raw (no output post-processing)


def say(message: str) -> None:
    """Print one transcript line; the pane log is the agent's transcript."""
    sys.stdout.write(message + _eol)
    sys.stdout.flush()


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` via a temp file in the same directory, fsync and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Session:
    """One agent process: its identity from the environment and what it has done so far."""

    role: str
    taskspec_id: str
    attempt: int
    behaviour: str
    run_token: str
    loc_cap: int
    prompts: int = 0
    files: list[str] = field(default_factory=list)  # what the last implement request wrote
    lines: int = 0
    notes: str = "no implementation in this session"


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, ""))
    except ValueError:
        return default


def session_from_env(role: str) -> Session:
    """Build the session from the HATCHDOIT_* variables the orchestrator sets."""
    default = "succeed" if role == "factory" else "approve"
    return Session(
        role=role,
        taskspec_id=os.environ.get("HATCHDOIT_TASKSPEC_ID", "UNKNOWN"),
        attempt=max(_env_int("HATCHDOIT_ATTEMPT", 1), 1),
        behaviour=os.environ.get("HATCHDOIT_BEHAVIOUR") or default,
        run_token=os.environ.get("HATCHDOIT_RUN_TOKEN", "no-token"),
        loc_cap=_env_int("HATCHDOIT_LOC_CAP", 100),
    )


class PromptReader:
    """Turn terminal input bytes into submitted prompts (bracketed paste, then Enter)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.paste = bytearray()
        self.pending = b""
        self.in_paste = False

    def feed(self, data: bytes) -> list[bytes | None]:
        """Consume bytes; return submitted prompts in order, None for Ctrl-C."""
        data, self.pending = self.pending + data, b""
        events: list[bytes | None] = []
        i = 0
        while i < len(data):
            if self.in_paste:
                i = self._take_paste(data, i)
            elif data[i] == 0x1B:
                i = self._take_escape(data, i)
            else:
                self._take_key(data[i], events)
                i += 1
        return events

    def _take_paste(self, data: bytes, i: int) -> int:
        end = data.find(PASTE_END, i)
        if end < 0:
            keep = next(
                (n for n in range(len(PASTE_END) - 1, 0, -1) if data.endswith(PASTE_END[:n])), 0
            )
            self.paste += data[i : len(data) - keep]
            self.pending = data[len(data) - keep :]
            return len(data)
        self.paste += data[i:end]
        # tmux turns pasted newlines into \r unless told otherwise: a lone \r is a newline here.
        self.buffer += bytes(self.paste).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self.paste.clear()
        self.in_paste = False
        return end + len(PASTE_END)

    def _take_escape(self, data: bytes, i: int) -> int:
        rest = data[i:]
        if rest.startswith(PASTE_START):
            self.in_paste = True
            return i + len(PASTE_START)
        if PASTE_START.startswith(rest):
            self.pending = rest  # maybe the start marker, split across reads
            return len(data)
        return i + 1  # any other escape key is ignored

    def _take_key(self, byte: int, events: list[bytes | None]) -> None:
        if byte in (0x0D, 0x0A):
            if self.buffer:
                events.append(bytes(self.buffer))
                self.buffer.clear()
        elif byte == 0x03:
            events.append(None)
        else:
            self.buffer.append(byte)


def parse_file_blocks(text: str) -> list[tuple[str, str]]:
    """Return (path, content) for every ```file:PATH fenced block; unclosed blocks are skipped."""
    blocks: list[tuple[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = OPEN_FENCE_RE.match(lines[i])
        i += 1
        if not match:
            continue
        fence, path, body = match.group(1), match.group(2), []
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped and set(stripped) == {"`"} and len(stripped) >= len(fence):
                break
            body.append(lines[i])
            i += 1
        else:
            say(f"warning: file block {path} is not closed; skipped")
            break
        i += 1
        blocks.append((path, "\n".join(body) + "\n" if body else ""))
    return blocks


def safe_target(root: Path, raw: str) -> Path | None:
    """The file to write for a block path, or None if it is absolute, climbs out or is in .git."""
    rel = PurePosixPath(raw)
    if rel.is_absolute() or raw.startswith("~") or not rel.parts:
        return None
    if any(part == ".." or part.lower() == ".git" for part in rel.parts):
        return None
    target = root.joinpath(*rel.parts)
    return target if target.resolve().is_relative_to(root.resolve()) else None


def qa_feedback(text: str) -> str | None:
    """First non-empty line of the `## QA feedback from attempt N` section, if there is one."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if FEEDBACK_RE.match(line):
            for body in lines[index + 1 :]:
                if body.startswith("## "):
                    return None
                if body.strip():
                    return body.strip()
    return None


def write_files(session: Session, root: Path, text: str) -> list[tuple[str, int]]:
    """Write the prompt's file blocks plus what the behaviour adds; return (path, lines)."""
    written: list[tuple[str, str]] = []
    for raw, content in parse_file_blocks(text):
        target = safe_target(root, raw)
        if target is None:
            say(f"warning: refusing to write {raw!r} (absolute, '..' or .git)")
            continue
        written.append((target.relative_to(root).as_posix(), content))
    if not written:
        note = root / "hatchdoit_notes" / f"{session.taskspec_id}.md"
        old = note.read_text(encoding="utf-8") if note.exists() else ""
        line = f"- attempt {session.attempt}: no file blocks in the prompt; nothing to write\n"
        written.append((note.relative_to(root).as_posix(), old + line))
    if session.behaviour == "fail-tests":
        written.append(("tests/test_zz_scripted_failure.py", FAILING_TEST))
    if session.behaviour == "exceed-loc":
        bulk = "".join(f"bulk line {n}\n" for n in range(1, session.loc_cap + 51))
        written.append(("scripted_bulk.txt", bulk))
    done = []
    for rel, content in written:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        done.append((rel, content.count("\n")))
        say(f"wrote {rel} ({done[-1][1]} lines)")
    return done


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git in the worktree with the scripted identity; output captured."""
    ident = ["-c", "user.name=scripted-agent", "-c", "user.email=scripted@localhost"]
    return subprocess.run(["git", *ident, *args], cwd=root, capture_output=True, text=True)


def git_failed(result: subprocess.CompletedProcess[str]) -> bool:
    """Log a failed git command with its last output line; True if it failed."""
    if result.returncode == 0:
        return False
    said = (result.stdout + result.stderr).strip().splitlines() or ["no output"]
    say(f"git {shlex.join(result.args[5:])} exited {result.returncode}: {said[-1]}")
    return True


def commit(session: Session, root: Path) -> None:
    """Commit everything in the worktree; nothing to commit, or a git failure, is only logged."""
    message = f"scripted factory: {session.taskspec_id} attempt {session.attempt}"
    if git_failed(git(root, "add", "-A")):
        return
    if git(root, "diff", "--cached", "--quiet").returncode == 0:
        say("nothing to commit")
        return
    if git_failed(git(root, "commit", "-q", "-m", message)):
        return
    say(f"committed {git(root, 'rev-parse', '--short', 'HEAD').stdout.strip()}: {message}")


def write_summary(session: Session, valid: bool) -> None:
    """Write the factory summary (or the malformed one) to HATCHDOIT_SUMMARY_FILE."""
    path = os.environ.get("HATCHDOIT_SUMMARY_FILE")
    if not path:
        say("no HATCHDOIT_SUMMARY_FILE set; summary not written")
        return
    if not valid:
        write_atomic(Path(path), f'{{"taskspec_id": "{session.taskspec_id}", "status": ')
        say(f"wrote malformed summary {path}")
        return
    summary = {
        "taskspec_id": session.taskspec_id,
        "agent_type": "factory",
        "iteration": session.attempt,
        "status": "completed",
        "implementation_files": session.files,
        "test_results": {"passed": 0, "failed": 1 if session.behaviour == "fail-tests" else 0},
        "loc_analysis": {"actual": session.lines, "cap": session.loc_cap},
        "next_steps": ["QA validation required"],
        "handover_notes": session.notes,
    }
    write_atomic(Path(path), json.dumps(summary, indent=2) + "\n")
    say(f"wrote summary {path}")


def factory_implement(session: Session, text: str) -> str:
    """Write files, commit, and write the summary as the behaviour says."""
    if session.behaviour == "hang":
        while True:  # a hung agent goes quiet: no output, no stop hook
            signal.pause()
    if session.behaviour == "crash":
        say("crashing")
        raise SystemExit(3)
    root = Path.cwd()
    done = write_files(session, root, text)
    commit(session, root)
    session.files = [rel for rel, _ in done]
    session.lines = sum(count for _, count in done)
    feedback = qa_feedback(text)
    session.notes = f"wrote {len(done)} file(s), {session.lines} line(s)"
    if feedback:
        session.notes = f"addressed QA feedback: {feedback}"
    if session.behaviour == "malformed-summary":
        write_summary(session, valid=False)
    elif session.behaviour not in ("skip-summary", "never-summary"):
        write_summary(session, valid=True)
    return f"implemented {session.taskspec_id} attempt {session.attempt}: {session.notes}"


def factory_summary(session: Session) -> str:
    """Answer the orchestrator's request to write the summary now."""
    if session.behaviour == "never-summary":
        say("summary requested; never-summary writes none")
        return "summary requested but not written"
    write_summary(session, valid=session.behaviour != "malformed-summary")
    return f"summary written for {session.taskspec_id} attempt {session.attempt}"


def read_json(path: str) -> tuple[Any, str]:
    """Parse a JSON file; return (data, "") or (None, why not)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")), ""
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def qa_decide(session: Session, checks: Any, error: str) -> tuple[str, list[str], str]:
    """The verdict, reasons and feedback for this attempt."""
    if session.behaviour == "reject":
        reasons = ["scripted QA rejects every attempt"]
        return "rejected", reasons, "Scripted QA rejects every attempt; no change will satisfy it."
    if session.behaviour == "reject-once" and session.attempt == 1:
        reasons = ["scripted QA: the change needs a docstring on each new public function"]
        return "rejected", reasons, "Add a docstring to each new public function."
    if not isinstance(checks, dict):
        return "rejected", [f"checks unavailable ({error or 'not a JSON object'})"], ""
    if checks.get("passed") is True:
        return "approved", [], ""
    reasons = [str(f) for f in checks.get("failures") or []] or ["checks did not pass"]
    return "rejected", reasons, "Fix these before QA can approve: " + "; ".join(reasons)


def qa_review(session: Session) -> str:
    """Read the checks (and summary), decide, and write the verdict."""
    checks, error = read_json(os.environ.get("HATCHDOIT_CHECKS_FILE", ""))
    say(f"checks: {'passed=' + str(checks.get('passed')) if isinstance(checks, dict) else error}")
    summary, why = read_json(os.environ.get("HATCHDOIT_SUMMARY_FILE", ""))
    say(f"factory summary: {'present' if isinstance(summary, dict) else 'unusable, ' + why}")
    verdict, reasons, feedback = qa_decide(session, checks, error)
    record = {
        "taskspec_id": session.taskspec_id,
        "attempt": session.attempt,
        "verdict": verdict,
        "reasons": reasons,
        "feedback": feedback,
    }
    path = os.environ.get("HATCHDOIT_VERDICT_FILE")
    if path:
        write_atomic(Path(path), json.dumps(record, indent=2) + "\n")
        say(f"wrote verdict {verdict} to {path}")
    else:
        say(f"no HATCHDOIT_VERDICT_FILE set; verdict {verdict} not written")
    return f"QA verdict {verdict} for {session.taskspec_id} attempt {session.attempt}"


def respond(session: Session, text: str, continuation: bool) -> str:
    """Handle one prompt by its request line; return a one-line account of what was done."""
    match = REQUEST_RE.search(text)
    request = match.group(1) if match else None
    if request is None and continuation and session.role == "factory":
        request = "summary"  # a Stop hook that blocks a factory is asking for its summary
    say(f"request: {request or 'none'}")
    if session.role == "factory" and request == "implement":
        return factory_implement(session, text)
    if session.role == "factory" and request == "summary":
        return factory_summary(session)
    if session.role == "qa" and request == "review":
        return qa_review(session)
    say(f"unknown request {request!r} for role {session.role}; nothing to do")
    return f"nothing to do for request {request!r}"


def call_stop_hook(session: Session, message: str, active: bool) -> str | None:
    """Run the Stop hook like Claude Code; return its reason if it blocks the stop."""
    hook = os.environ.get("HATCHDOIT_STOP_HOOK")
    if not hook:
        say("no HATCHDOIT_STOP_HOOK set; not signalling the stop")
        return None
    payload = {
        "hook_event_name": "Stop",
        "session_id": f"scripted-{session.run_token}",
        "stop_hook_active": active,
        "cwd": os.getcwd(),
        "last_assistant_message": message,
    }
    try:
        result = subprocess.run(
            [hook, "stop"], input=json.dumps(payload), capture_output=True, text=True
        )
    except OSError as exc:
        say(f"stop hook could not run: {exc}")
        return None
    say(f"stop hook exited {result.returncode}")
    try:
        answer = json.loads(result.stdout or "null")
    except ValueError:
        return None
    if isinstance(answer, dict) and answer.get("decision") == "block":
        return str(answer.get("reason") or "")
    return None


def answer(session: Session, text: str) -> None:
    """Respond to a prompt, then stop; go on while the Stop hook blocks (bounded)."""
    active = False
    for _ in range(MAX_CONTINUATIONS + 1):
        reason = call_stop_hook(session, respond(session, text, active), active)
        if reason is None:
            return
        say(f"stop hook blocked: {(reason.splitlines() or [''])[0]}")
        text, active = reason, True
    say("stop hook kept blocking; stopping anyway")


def submit(session: Session, prompt: bytes) -> None:
    """Count the prompt, tell the orchestrator it arrived, and answer it."""
    session.prompts += 1
    marker = os.environ.get("HATCHDOIT_SUBMITTED_FILE")
    if marker:
        write_atomic(Path(marker), str(session.prompts))
    say(f"received prompt {session.prompts} ({len(prompt)} bytes)")
    answer(session, prompt.decode("utf-8", errors="replace"))


def serve(session: Session) -> int:
    """Read prompts until stdin closes or Ctrl-C."""
    reader = PromptReader()
    while True:
        data = os.read(0, 65536)
        if not data:
            say("input closed; exiting")
            return 0
        for prompt in reader.feed(data):
            if prompt is None:
                say("interrupted")
                return 130
            submit(session, prompt)


def main(argv: list[str] | None = None) -> int:
    """Start the TUI: banner, bracketed paste, raw input, ready marker, then serve prompts."""
    global _eol
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("factory", "qa"), required=True)
    session = session_from_env(parser.parse_args(argv).role)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # unwind so the terminal is restored
        signal.signal(signum, lambda number, _frame: sys.exit(128 + number))
    allowed = FACTORY_BEHAVIOURS if session.role == "factory" else QA_BEHAVIOURS
    if session.behaviour not in allowed:
        print(f"unknown {session.role} behaviour {session.behaviour!r}; one of {allowed}")
        return 2
    say(
        f"scripted agent {session.role} {session.taskspec_id} attempt {session.attempt} "
        f"behaviour {session.behaviour}"
    )
    sys.stdout.write("\x1b[?2004h")
    saved = termios.tcgetattr(0) if os.isatty(0) else None
    try:
        if saved is not None:
            tty.setraw(0)
            _eol = "\r\n"
        ready = os.environ.get("HATCHDOIT_READY_FILE")
        if ready:
            write_atomic(Path(ready), "1")
        say("ready")
        return serve(session)
    finally:
        sys.stdout.write("\x1b[?2004l")
        sys.stdout.flush()
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    sys.exit(main())
