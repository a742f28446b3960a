"""What one agent run has spent so far, while it runs, for the live cap (stop_wait.py ends a
session that crosses it; budgets.live_cap). Each source is read from where the last read ended:

- Claude Code print mode: the `result` lines of its stream (`total_cost_usd`), at the end of
  each turn (it also gets `--max-budget-usd`, which stops it inside a turn);
- interactive Claude Code: the session's transcript in the run's own config home, after every
  model response, its tokens at their model's price;
- Codex: its rollout file (agents/codex_rollout.py), after every model response, the thread's
  tokens at their model's price; `turn.completed` in the stream at the end;
- any other CLI: nothing while it runs (its stop payload may still report a cost or tokens).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hatchdoit.agents.codex_rollout import RolloutTally, codex_usage, rollout_file
from hatchdoit.agents.transcript import JsonLineTail, TranscriptTally
from hatchdoit.providers.spend import payload_usd
from hatchdoit.run.agent_run import AgentRun


class RunSpend:
    """A run's spend so far (`now()`), its sources found and followed as they appear."""

    def __init__(self, run: AgentRun) -> None:
        ctx = run.ctx
        self.prices = ctx.project.config.budgets.prices
        profile = ctx.project.profile(ctx.tid, run.role).profile
        params = ctx.project.config.agent_params.get(profile.name, {})
        self.model = str(params.get("model") or profile.params.get("model") or "")
        stream = ctx.layout.stream_log(ctx.tid, run.role, run.attempt)
        self.stream = JsonLineTail(stream, (b'"result"', b'"turn.completed"', b'"thread.started"'))
        run_dir = ctx.layout.session_dir(ctx.tid, run.role, run.attempt)
        self.claude_home = run_dir / "claude-home"
        self.codex_home = run_dir / "codex-home"  # the run's own CODEX_HOME (agents/codex.py)
        self.reported: float | None = None  # Claude Code print mode's costs, turn by turn
        self.completed: dict[str, int] = {}  # Codex's turn.completed usage
        self.thread = ""
        self.rollout: RolloutTally | None = None
        self.transcript: TranscriptTally | None = None

    def now(self) -> float | None:
        """USD spent so far; None while nothing tells."""
        self._read_stream()
        known = [u for u in (self.reported, self._codex(), self._transcript()) if u is not None]
        return max(known) if known else None

    def _read_stream(self) -> None:
        for event in self.stream.new():
            kind = event.get("type")
            cost = event.get("total_cost_usd")
            if kind == "result" and isinstance(cost, int | float):
                self.reported = (self.reported or 0.0) + float(cost)
            elif kind == "turn.completed" and isinstance(event.get("usage"), dict):
                for key, value in codex_usage(event["usage"]).items():
                    self.completed[key] = self.completed.get(key, 0) + value
            elif kind == "thread.started" and event.get("thread_id"):
                self.thread = str(event["thread_id"])

    def _codex(self) -> float | None:
        if self.thread and self.rollout is None:
            # the run's own home, else the user's (config_home: user)
            env = {"CODEX_HOME": str(self.codex_home)} if self.codex_home.is_dir() else os.environ
            found = rollout_file(dict(env), self.thread)
            self.rollout = RolloutTally(found) if found is not None else None
        live: dict[str, Any] = self.rollout.read() if self.rollout is not None else {}
        model = str(live.get("model") or self.model)
        spent = [
            payload_usd({"usage": usage, "model": model}, self.prices)
            for usage in (live.get("usage"), self.completed)
            if usage
        ]
        usd = [s for s in spent if s is not None]
        return max(usd) if usd else None

    def _transcript(self) -> float | None:
        if self.transcript is None:
            found = sorted((self.claude_home / "projects").glob("*/*.jsonl"), key=_mtime)
            if not found:
                return None
            self.transcript = TranscriptTally(found[-1])
        summary = self.transcript.read()
        if summary and not summary.get("model"):
            summary["model"] = self.model
        return payload_usd(summary, self.prices) if summary else None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
