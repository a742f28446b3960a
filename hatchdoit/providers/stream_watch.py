"""What the headless runner (headless.py) learns from a CLI's stream while it runs: the
provider faults it reports (providers/faults.py), and the first sign that the provider answered.

- The first answer touches $HATCHDOIT_HEALTHY_FILE: a paused provider's probe run proves the
  provider is back (provider_runs/gate.py) without waiting for the whole run.
- An authentication failure the CLI retries ($HATCHDOIT_AUTH_RETRIES times at most, for an OAuth
  refresh) ends the run at once: Claude Code would retry a wrong key for three minutes.
- The last fault seen is what the stop records when the run fails, with the latest reset the
  stream named for that class: Claude Code's result says "resets 12:40am" (to the minute) after
  its rate_limit_event gave the second.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hatchdoit.core.atomicio import touch
from hatchdoit.providers.faults import Fault, claude_event, codex_message


class StreamWatch:
    def __init__(self, fmt: str, env: dict[str, str], end_run: Callable[[], None]) -> None:
        self.fmt = fmt
        self.healthy_file = env.get("HATCHDOIT_HEALTHY_FILE", "")
        self.auth_retries = int(env.get("HATCHDOIT_AUTH_RETRIES", "1") or 1)
        self.end_run = end_run
        self.auth_seen = 0
        self.fault: Fault | None = None  # the last fault the stream reported
        self.ended: Fault | None = None  # the fault this watch ended the run for

    def see(self, event: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        fault = None
        kind = event.get("type")
        if self.fmt == "claude":
            fault = claude_event(event, now)
            answered = kind == "assistant" and not event.get("error")
        elif self.fmt == "codex":
            if kind == "error":
                fault = codex_message(str(event.get("message") or ""), now)
            elif kind == "turn.failed":
                error = event.get("error") or {}
                message = error.get("message") if isinstance(error, dict) else None
                fault = codex_message(str(message or ""), now)
            item = event.get("item") or {}
            answered = kind == "turn.completed" or (
                kind == "item.completed" and item.get("type") != "error"
            )
        else:
            return
        if answered:
            self._healthy()
            self.fault = None  # what failed before was retried and answered
        if fault is None:
            return
        self.fault = _keep_reset(self.fault, fault)
        if fault["class"] == "auth" and self.ended is None:
            self.auth_seen += 1
            if self.auth_seen > self.auth_retries:
                self.ended = fault
                self.end_run()

    def _healthy(self) -> None:
        if self.healthy_file:
            touch(self.healthy_file)
            self.healthy_file = ""  # once


def _keep_reset(before: Fault | None, fault: Fault) -> Fault:
    """`fault`, with `before`'s reset when that is later for the same class (ISO UTC texts of
    one format compare as times)."""
    if before is None or before["class"] != fault["class"] or "resets_at" not in before:
        return fault
    if str(before["resets_at"]) > str(fault.get("resets_at") or ""):
        return {**fault, "resets_at": before["resets_at"]}
    return fault
