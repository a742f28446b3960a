"""Run a headless agent CLI to completion and write the attempt's `.stop` when it exits.

Usage (in an agent profile's argv):
    {python} -m hatchdoit.headless --format claude|codex|plain --prompt-file F [--stream-log L]
        -- CMD ARGS...

The prompt file is the CLI's stdin. Every line the CLI prints goes to the pane (and so to the
pane log) and, with --stream-log, to that file too. The CLI's own hooks (Claude Code's Stop and
StopFailure, Codex notify) still call scripts/agent/stop_hook.sh, which may block a stop without
a summary; here it only notes the event (HATCHDOIT_HOOK_NOTES) because this runner owns the stop:
when the CLI exits, the `.stop` is written with what the stream reported (session id, turns,
token usage, cost, last message) merged with the hooks' notes (transcript path, ...).

- claude (`claude -p --output-format stream-json --verbose`): the final `result` line decides:
  `is_error` or a StopFailure note make a `stop_failure`, else a `stop`.
- codex (`codex exec --json`): `turn.completed` is a stop, `turn.failed` / `error` a stop_failure.
- plain: exit code 0 is a stop (unless a hook noted a failure).
A CLI that dies without any of these gets no `.stop`; the orchestrator sees the exit marker and
records a crash. On SIGTERM/SIGHUP/SIGINT the signal is passed on and no `.stop` is written.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from hatchdoit.agents.codex_rollout import codex_usage, rollout_model
from hatchdoit.agents.stop_hook import REQUIRED_ENV, build_record, log_line, sidecar, write_stop
from hatchdoit.core.jsonlines import read_json_lines
from hatchdoit.providers.stream_watch import StreamWatch


@dataclass
class Outcome:
    """What the CLI's stream said about its run."""

    event: str | None = None  # stop | stop_failure | None (nothing conclusive)
    reason: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


def claude_outcome(lines: list[dict[str, Any]]) -> Outcome:
    result = next((e for e in reversed(lines) if e.get("type") == "result"), None)
    init = next((e for e in lines if e.get("type") == "system" and e.get("subtype") == "init"), {})
    out = Outcome(payload={k: init[k] for k in ("session_id", "model") if k in init})
    if result is None:
        return out
    for key in (
        "session_id",
        "num_turns",
        "usage",
        "total_cost_usd",
        "duration_ms",
        "duration_api_ms",
        "terminal_reason",
        "api_error_status",
        "subtype",
        "is_error",
    ):
        if key in result:
            out.payload[key] = result[key]
    if isinstance(out.payload.get("usage"), dict):  # keep the token counts, not the extras
        usage = out.payload["usage"].items()
        out.payload["usage"] = {k: v for k, v in usage if isinstance(v, int) and "tokens" in k}
    models = result.get("modelUsage")
    if isinstance(models, dict) and models:
        out.payload["model"] = next(iter(models))
    text = result.get("result")
    if isinstance(text, str):
        out.payload["last_assistant_message"] = text[:4000]
    failed = bool(result.get("is_error")) or result.get("subtype") not in (None, "success")
    out.event = "stop_failure" if failed else "stop"
    status = result.get("api_error_status")
    out.reason = f"API error {status}" if failed and status else str(result.get("subtype") or "")
    if result.get("subtype") == "error_max_budget_usd":
        out.reason = f"budget: spent ${result.get('total_cost_usd') or 0:.2f} (--max-budget-usd)"
    return out


def codex_outcome(lines: list[dict[str, Any]]) -> Outcome:
    out = Outcome()
    usage: dict[str, int] = {}
    turns = 0
    for event in lines:
        kind = event.get("type")
        if kind == "thread.started" and event.get("thread_id"):
            out.payload["session_id"] = event["thread_id"]
        elif kind == "item.completed":
            item = event.get("item") or {}
            if item.get("type") in ("agent_message", "assistant_message") and item.get("text"):
                out.payload["last_assistant_message"] = str(item["text"])[:4000]
        elif kind == "turn.completed":
            turns += 1
            for name, value in codex_usage(event.get("usage") or {}).items():
                usage[name] = usage.get(name, 0) + value  # input_tokens: without the cached
            out.event, out.reason = "stop", "turn.completed"
        elif kind in ("turn.failed", "error"):
            error = event.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else None
            out.event, out.reason = "stop_failure", str(message or event.get("message") or kind)
    if usage:
        out.payload["usage"] = usage
    if turns:
        out.payload["num_turns"] = turns
    return out


def decide(
    fmt: str, lines: list[dict[str, Any]], notes: list[dict[str, Any]], code: int
) -> Outcome:
    """Join the stream's outcome, the hooks' notes and the exit code into one."""
    if fmt == "claude":
        out = claude_outcome(lines)
    elif fmt == "codex":
        out = codex_outcome(lines)
    else:
        out = Outcome(event="stop" if code == 0 else None, reason=f"exit {code}")
    failure = next((n for n in reversed(notes) if n.get("event") == "stop_failure"), None)
    last_stop = next((n for n in reversed(notes) if n.get("event") == "stop"), None)
    for note in (last_stop, failure):
        for key, value in (note or {}).items():
            if key not in ("event", "at"):
                out.payload.setdefault(key, value)
    if failure is not None and out.event != "stop_failure":
        out.event, out.reason = "stop_failure", str(failure.get("stop_reason") or "api error")
    if out.event is None and last_stop is not None and code == 0:
        out.event, out.reason = "stop", "stop hook"
    out.payload["exit_code"] = code
    return out


class _Forwarder:
    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.signal: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signum
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)


def pump(
    source: IO[bytes], stream_log: Path | None, watch: StreamWatch | None = None
) -> list[dict[str, Any]]:
    """Copy the CLI's lines to our stdout (the pane) and the stream log; keep the JSON ones,
    each shown to `watch` as it comes."""
    events: list[dict[str, Any]] = []
    log = open(stream_log, "ab") if stream_log else None  # noqa: SIM115  (closed below)
    try:
        for raw in iter(source.readline, b""):
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
            if log is not None:
                log.write(raw if raw.endswith(b"\n") else raw + b"\n")
                log.flush()
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
                if watch is not None:
                    watch.see(event)
    finally:
        if log is not None:
            log.close()
    return events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hatchdoit.headless", description=__doc__)
    parser.add_argument("--format", choices=("claude", "codex", "plain"), required=True)
    parser.add_argument("--prompt-file", type=Path, required=True)
    parser.add_argument("--stream-log", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("missing the agent command after --")
    env = dict(os.environ)
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        parser.error(f"missing environment {', '.join(missing)} (run by hatchdoit only)")
    notes = Path(sidecar(env, "notes.jsonl"))
    notes.unlink(missing_ok=True)
    if args.stream_log:
        args.stream_log.parent.mkdir(parents=True, exist_ok=True)
    forward = _Forwarder()
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, forward)
    try:
        with open(args.prompt_file, "rb") as prompt:
            forward.child = subprocess.Popen(
                command,
                stdin=prompt,
                stdout=subprocess.PIPE,
                env={**env, "HATCHDOIT_HOOK_NOTES": str(notes)},
            )
    except OSError as exc:
        print(f"hatchdoit.headless: cannot run {command[0]}: {exc}", file=sys.stderr)
        return 127
    child = forward.child
    assert child.stdout is not None
    watch = StreamWatch(args.format, env, lambda: child.terminate())
    lines = pump(child.stdout, args.stream_log, watch)
    code = child.wait()
    if forward.signal is not None:
        print(f"hatchdoit.headless: stopped by signal {forward.signal}; no stop written")
        return 128 + forward.signal
    outcome = decide(args.format, lines, read_json_lines(notes), code)
    if args.format == "codex":  # the model, for its price: Codex's rollout file names it
        model = rollout_model(env, str(outcome.payload.get("session_id") or ""))
        if model:
            outcome.payload.setdefault("model", model)
    if watch.ended is not None:  # this runner ended the CLI: the fault is the outcome
        fault = watch.ended
        outcome.event, outcome.reason = "stop_failure", f"{fault['class']}: {fault['message']}"
        print(f"hatchdoit.headless: ended {Path(command[0]).name}: {outcome.reason}")
    if outcome.event == "stop_failure" and watch.fault is not None:
        outcome.payload.setdefault("provider_fault", watch.ended or watch.fault)
    if outcome.event is None:
        print(f"hatchdoit.headless: {Path(command[0]).name} exited {code} without a result")
        log_line(env, "headless agent ended without a result", "ERROR", exit_code=code)
        return code or 1
    if args.stream_log:
        outcome.payload["stream_log"] = str(args.stream_log)
    reason_key = "error" if outcome.event == "stop_failure" else "reason"
    record = build_record(outcome.event, {reason_key: outcome.reason, **outcome.payload}, env)
    record["payload"].update(outcome.payload)  # the stream's own totals beat the transcript's
    write_stop(record, env)
    print(f"hatchdoit.headless: {Path(command[0]).name} exited {code}; {outcome.event} recorded")
    return code


if __name__ == "__main__":
    sys.exit(main())
