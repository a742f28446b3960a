"""Codex's own record of a session, its rollout file
(`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`, CODEX_HOME by default
~/.codex): the model (`turn_context`) and the thread's token counts, which Codex writes after
every model response (`event_msg` `token_count`, `info.total_token_usage`). `codex exec --json`
prints usage only in `turn.completed`, at the end of the run (Codex CLI 0.171.0); the rollout
file is how a Codex run's spend is known while it goes (provider_runs/budgets.py) and which model it
used (the stop's `model`, for its price).

Codex counts cached input (and, for models that price them, cache writes) inside
`input_tokens`; `codex_usage` turns its counts into the Claude-style ones the rest of hatchdoit
uses: `input_tokens` the fresh input only. Standard library only (the headless runner)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hatchdoit.agents.transcript import JsonLineTail


def codex_usage(counts: dict[str, Any]) -> dict[str, int]:
    """Codex's token counts (`turn.completed.usage`, `total_token_usage`) as hatchdoit's:
    input_tokens (fresh), cache_read_input_tokens, cache_creation_input_tokens, output_tokens
    (reasoning included, as Codex counts it)."""

    def count(key: str) -> int:
        value = counts.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    cached, written = count("cached_input_tokens"), count("cache_write_input_tokens")
    found = {
        "input_tokens": max(count("input_tokens") - cached - written, 0),
        "output_tokens": count("output_tokens"),
        "cache_read_input_tokens": cached,
    }
    if written:
        found["cache_creation_input_tokens"] = written
    return found


def codex_home(env: dict[str, str]) -> Path:
    home = env.get("CODEX_HOME")
    return Path(home) if home else Path(env.get("HOME") or os.path.expanduser("~")) / ".codex"


def rollout_file(env: dict[str, str], thread_id: str) -> Path | None:
    """The rollout file of the thread (the newest, if Codex wrote several); None if none."""
    if not thread_id or "/" in thread_id or "*" in thread_id:
        return None
    sessions = codex_home(env) / "sessions"
    found = sorted(sessions.glob(f"*/*/*/rollout-*-{thread_id}.jsonl"), key=_mtime)
    return found[-1] if found else None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def rollout_model(env: dict[str, str], thread_id: str) -> str:
    """The model the thread used, from its rollout file; "" when that cannot be told."""
    found = rollout_file(env, thread_id)
    return str(RolloutTally(found).read().get("model") or "") if found is not None else ""


class RolloutTally:
    """The thread's token counts and model so far, read from where the last read ended."""

    def __init__(self, path: Path) -> None:
        self.tail = JsonLineTail(path, (b'"token_count"', b'"turn_context"'))
        self.total: dict[str, Any] = {}
        self.model = ""

    def read(self) -> dict[str, Any]:
        """{"usage": ..., "model": ...} as a stop payload has them; {} before the first count."""
        for entry in self.tail.new():
            payload = entry.get("payload")
            if not isinstance(payload, dict):
                continue
            if entry.get("type") == "turn_context" and payload.get("model"):
                self.model = str(payload["model"])
            info = payload.get("info") if payload.get("type") == "token_count" else None
            total = info.get("total_token_usage") if isinstance(info, dict) else None
            if isinstance(total, dict):
                self.total = total
        if not self.total:
            return {"model": self.model} if self.model else {}
        found: dict[str, Any] = {"usage": codex_usage(self.total)}
        if self.model:
            found["model"] = self.model
        return found
