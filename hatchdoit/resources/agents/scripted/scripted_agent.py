#!/usr/bin/env python3
"""A deterministic stand-in for an AI coding CLI, run by hatchdoit in a tmux pane.

It acts like an interactive TUI: prompts arrive as bracketed paste, Enter submits, a Stop hook
runs after each answer, and it stays open for the next prompt. What it does is chosen by
HATCHDOIT_BEHAVIOUR; a TaskSpec body line `<!-- scripted:hold=SECONDS -->` makes the factory work
that long before it writes anything. Standard library only; it never imports hatchdoit.
"""

from __future__ import annotations

import time

STARTED_AT = time.time()  # before the imports below: they are this agent's own start-up time

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import termios
import tty
from pathlib import Path

# The script runs from any directory: its sibling module is found beside it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scripted_provider import provider_answered, provider_fault
from scripted_terminal import say, use_raw_line_endings
from scripted_work import (
    FACTORY_BEHAVIOURS,
    MAX_CONTINUATIONS,
    PASTE_END,
    PASTE_START,
    QA_BEHAVIOURS,
    REQUEST_RE,
    Session,
    factory_implement,
    factory_summary,
    qa_review,
    record_time,
    session_from_env,
    write_atomic,
)

PROMPT_FILE_RE = re.compile(r"^<!-- hatchdoit:prompt-file=(.+) -->[ \t]*$", re.MULTILINE)


class PromptReader:
    """Turn terminal input bytes into submitted prompts (bracketed paste, then Enter)."""

    def __init__(self, deaf_enters: int = 0) -> None:
        # Enter presses that submit nothing at first (SCRIPTED_DEAF_ENTERS: a TUI still busy
        # starting), for tests of limits.submit_retries
        self.deaf_enters = deaf_enters
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
            if self.buffer and self.deaf_enters > 0:
                self.deaf_enters -= 1
            elif self.buffer:
                events.append(bytes(self.buffer))
                self.buffer.clear()
        elif byte == 0x03:
            events.append(None)
        else:
            self.buffer.append(byte)


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


def call_stop_hook(
    session: Session, message: str, active: bool, failure: dict[str, object] | None = None
) -> str | None:
    """Run the Stop hook like Claude Code (StopFailure with `failure`, the provider's fault);
    return its reason if it blocks the stop."""
    hook = os.environ.get("HATCHDOIT_STOP_HOOK")
    if not hook:
        say("no HATCHDOIT_STOP_HOOK set; not signalling the stop")
        return None
    payload = {
        "hook_event_name": "StopFailure" if failure else "Stop",
        "session_id": f"scripted-{session.run_token}",
        "stop_hook_active": active,
        "cwd": os.getcwd(),
        "last_assistant_message": message,
        **(failure or {}),
    }
    cost = os.environ.get("SCRIPTED_COST_USD")  # what each run "spent", for tests of budgets:
    if cost:
        payload["total_cost_usd"] = float(cost)
    record_time(session, "stop_hook")
    event = "stop-failure" if failure else "stop"
    try:
        result = subprocess.run(
            [hook, event], input=json.dumps(payload), capture_output=True, text=True
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
    """Respond to a prompt, then stop; go on while the Stop hook blocks (bounded). A fault of
    the (scripted) provider ends the turn with a StopFailure instead, the session left open."""
    failure = provider_fault()
    if failure is not None:
        say(f"API error: {failure['message']}")
        call_stop_hook(session, str(failure["message"]), False, failure)
        return
    provider_answered()
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
    record_time(session, "prompt")
    session.prompts += 1
    marker = os.environ.get("HATCHDOIT_SUBMITTED_FILE")
    if marker:
        write_atomic(Path(marker), str(session.prompts))
    say(f"received prompt {session.prompts} ({len(prompt)} bytes)")
    text = prompt.decode("utf-8", errors="replace")
    pointer = PROMPT_FILE_RE.search(text)
    if pointer:  # a large or control-character prompt comes as a file to read
        # Bytes, not read_text: universal newlines would turn the prompt's CR and CRLF into LF.
        text = Path(pointer.group(1)).read_bytes().decode("utf-8")
        say(f"read prompt file {pointer.group(1)} ({len(text.encode())} bytes)")
    record = os.environ.get("SCRIPTED_RECORD_PROMPTS")
    if record:  # tests compare what arrived with what was sent
        write_atomic(Path(record) / f"{session.role}-{session.attempt}-{session.prompts}.md", text)
    seen = os.environ.get("SCRIPTED_RECORD_ENV")
    if seen:  # tests check the environment a session was given (README: Your project's ...)
        names = ("PATH", "VIRTUAL_ENV")
        found = json.dumps({name: os.environ.get(name) for name in names})
        write_atomic(Path(seen) / f"{session.role}-{session.attempt}.json", found)
    answer(session, text)


def serve(session: Session) -> int:
    """Read prompts until stdin closes or Ctrl-C."""
    reader = PromptReader(int(os.environ.get("SCRIPTED_DEAF_ENTERS") or 0))
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("factory", "qa"), required=True)
    session = session_from_env(parser.parse_args(argv).role)
    record_time(session, "started", at=STARTED_AT)
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
            use_raw_line_endings()
        ready = os.environ.get("HATCHDOIT_READY_FILE")
        if ready:
            write_atomic(Path(ready), "1")
        record_time(session, "ready")
        say("ready")
        return serve(session)
    finally:
        sys.stdout.write("\x1b[?2004l")
        sys.stdout.flush()
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


if __name__ == "__main__":
    sys.exit(main())
