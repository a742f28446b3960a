"""Run a headless agent CLI (Claude Code `-p`, `codex exec`) and keep its JSON stream, with the
time each line arrived: what tests/test_provider_signals.py and tests/measure_provider_signals.py
read. A run can be stopped as soon as a given event was seen (the signal a test waits for), so a
CLI that would retry for minutes costs a test only the seconds until its first signal.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Event = dict[str, Any]


@dataclass
class CliRun:
    """What one run printed: `events` as (seconds since start, event), in order."""

    events: list[tuple[float, Event]] = field(default_factory=list)
    other_lines: list[str] = field(default_factory=list)
    exit_code: int | None = None  # None: stopped by us (signal seen or deadline)
    stopped: str = ""  # "" | "signal" | "deadline"
    elapsed: float = 0.0
    stderr: str = ""

    def first(self, match: Callable[[Event], bool]) -> tuple[float, Event] | None:
        return next(((t, e) for t, e in self.events if match(e)), None)

    def of(self, kind: str, subtype: str | None = None) -> list[Event]:
        return [
            e
            for _, e in self.events
            if e.get("type") == kind and (subtype is None or e.get("subtype") == subtype)
        ]

    def kinds(self) -> list[str]:
        """Each event as TYPE or TYPE/SUBTYPE (Claude Code's system events)."""
        return [
            f"{e.get('type')}/{e['subtype']}" if e.get("type") == "system" else str(e.get("type"))
            for _, e in self.events
        ]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the CLI's process group, SIGKILL if it is still there after 5 s."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_cli(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    prompt: str,
    timeout: float,
    stop_when: Callable[[Event], bool] | None = None,
) -> CliRun:
    """Run `argv` with `prompt` on stdin until it exits, `stop_when` matched an event (then it
    is stopped), or `timeout` seconds passed (then it is killed)."""
    run = CliRun()
    lines: queue.Queue[bytes | None] = queue.Queue()
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        out = proc.stdout

        def pump() -> None:
            for raw in iter(out.readline, b""):
                lines.put(raw)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            proc.stdin.write(prompt.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        deadline = start + timeout
        while True:
            try:
                raw = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                run.stopped = "deadline"
                break
            if raw is None:
                break
            at = time.monotonic() - start
            try:
                event = json.loads(raw)
            except ValueError:
                run.other_lines.append(raw.decode(errors="replace").rstrip("\n"))
                continue
            if not isinstance(event, dict):
                continue
            run.events.append((at, event))
            if stop_when is not None and stop_when(event):
                run.stopped = "signal"
                break
        if run.stopped:
            _stop(proc)
        else:
            run.exit_code = proc.wait()
        run.elapsed = time.monotonic() - start
        err.seek(0)
        run.stderr = err.read().decode(errors="replace")
    return run
