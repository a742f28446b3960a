"""Entry point of scripts/agent/stop_hook.sh: turn an agent's stop event into a `.stop` file.

Usage: stop_hook.sh EVENT [PAYLOAD_JSON]. The payload comes from the last argument (Codex notify)
or stdin (Claude Code hooks). Paths and the run token come from the environment the orchestrator
gave the agent's session.

The hook runs as the agent does (confined, it may write only the run's output directory): it
writes the stop file, its markers and its log lines (`hooks.jsonl`) into that directory, the one
HATCHDOIT_STOP_FILE is in, and nothing else. hatchdoit validates the stop file and takes it into
place, copies the log lines and writes the audit events itself (steps/run_output.py).

- Stop with a guard (HATCHDOIT_STOP_GUARD=N > 0, set for Claude profiles): while the factory's
  summary (or QA's verdict) is missing or invalid, the block decision stop_guard.py makes is
  printed instead of a stop. Otherwise nothing is printed, so the agent may stop.
- HATCHDOIT_HOOK_NOTES set (a headless runner, hatchdoit.headless, owns the stop): the event is
  appended there as a JSON line, and the runner writes the `.stop` when the CLI exits.
- SessionEnd after this run already has a `.stop` is only logged: the stop record stays the stop.
"""

from __future__ import annotations

import json
import os
import sys

from hatchdoit.core.atomicio import append_line, read_json, touch, write_json_atomic
from hatchdoit.core.clock import now_iso

# Not typing.TYPE_CHECKING: importing typing costs the stop hook's Python 3 ms at every stop.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Every agent stop runs this module in a fresh interpreter, so it imports the standard library
# and hatchdoit's small file helpers only: pydantic (the records and schemas) is loaded just for
# the Stop guard's check of a summary or verdict. The stop file is validated as a StopRecord
# (hatchdoit.records.models) by the orchestrator that reads it.

EVENTS = {
    "stop": "stop",
    "Stop": "stop",
    "agent-turn-complete": "stop",
    "stop-failure": "stop_failure",
    "stop_failure": "stop_failure",
    "StopFailure": "stop_failure",
    "session-end": "session_end",
    "session_end": "session_end",
    "SessionEnd": "session_end",
}
REQUIRED_ENV = (
    "HATCHDOIT_STOP_FILE",
    "HATCHDOIT_RUN_TOKEN",
    "HATCHDOIT_TASKSPEC_ID",
    "HATCHDOIT_ROLE",
    "HATCHDOIT_ATTEMPT",
)
KEPT_PAYLOAD_KEYS = (
    "session_id",
    "transcript_path",
    "cwd",
    "hook_event_name",
    "stop_hook_active",
    "last_assistant_message",
    "reason",
    "error",
    "error_details",
    "prompt_id",
    "permission_mode",
    "type",
    "thread-id",
    "turn-id",
    "last-assistant-message",
    # what the run spent, as any CLI may report it (agent-profiles.md; metrics, budgets:)
    "usage",
    "total_cost_usd",
    "cost_usd",
    "model",
    # a stop-failure of any CLI (agent-profiles.md): what went wrong with its provider
    "kind",
    "message",
    "resets_at",
    "retry_after_s",
)
MESSAGE_LIMIT = 4000


def read_payload(args: list[str]) -> dict[str, Any]:
    """Payload from the last argument if it is JSON, else from stdin when it is not a terminal."""
    text = ""
    if args:
        text = args[-1]
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"unparsed": text[:2000]}
    return data if isinstance(data, dict) else {"value": data}


def event_of(event_arg: str, payload: dict[str, Any]) -> str:
    return EVENTS.get(event_arg) or EVENTS.get(str(payload.get("hook_event_name", "")), "stop")


def sidecar(env: dict[str, str], suffix: str) -> str:
    """A file beside the stop file: `<role>-<k>.<suffix>`."""
    stem = os.path.splitext(env["HATCHDOIT_STOP_FILE"])[0]
    return f"{stem}.{suffix}"


def kept_payload(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    kept = {k: payload[k] for k in KEPT_PAYLOAD_KEYS if k in payload}
    for key in ("last_assistant_message", "last-assistant-message"):
        if isinstance(kept.get(key), str):
            kept[key] = kept[key][:MESSAGE_LIMIT]
    if "last-assistant-message" in kept and "last_assistant_message" not in kept:
        kept["last_assistant_message"] = kept["last-assistant-message"]
    if "thread-id" in kept and "session_id" not in kept:
        kept["session_id"] = kept["thread-id"]
    kept["stop_reason"] = stop_reason(event, payload)
    if event == "stop_failure":
        from hatchdoit.providers.faults import hook_fault

        fault = hook_fault(payload, os.environ.get("HATCHDOIT_FAULT_SIGNALS", "generic"))
        if fault is not None:
            kept["provider_fault"] = fault
    transcript = payload.get("transcript_path")
    if event != "session_end" and isinstance(transcript, str) and transcript:
        from hatchdoit.agents.transcript import transcript_usage

        for key, value in transcript_usage(transcript).items():
            kept.setdefault(key, value)
    return kept


def stop_reason(event: str, payload: dict[str, Any]) -> str:
    if event == "stop_failure":
        detail = payload.get("error_details")
        error = str(payload.get("error") or "api error")
        return f"{error}: {detail}" if detail else error
    if event == "session_end":
        return str(payload.get("reason") or "session ended")
    return str(payload.get("reason") or payload.get("type") or "end_turn")


def build_record(event_arg: str, payload: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """The stop document: a StopRecord's fields (hatchdoit.records.models), as JSON values."""
    stop_file = env["HATCHDOIT_STOP_FILE"]
    token = env["HATCHDOIT_RUN_TOKEN"]
    seq = 1
    try:
        previous = read_json(stop_file)
        if previous.get("run_token") == token:
            seq = int(previous.get("seq", 1)) + 1
    except (OSError, ValueError, AttributeError):
        pass
    event = event_of(event_arg, payload)
    kept = kept_payload(event, payload)
    return {
        "run_token": token,
        "taskspec_id": env["HATCHDOIT_TASKSPEC_ID"],
        "role": env["HATCHDOIT_ROLE"],
        "attempt": int(env["HATCHDOIT_ATTEMPT"]),
        "event": event,
        "source": "hook",
        "seq": seq,
        "reason": str(payload.get("reason") or payload.get("error") or ""),
        "at": now_iso(),
        "payload": kept,
    }


def write_stop(record: dict[str, Any], env: dict[str, str]) -> None:
    """Write the stop file and a line in the run's hook log (hatchdoit audits the stop when it
    takes the file)."""
    write_json_atomic(env["HATCHDOIT_STOP_FILE"], record)
    log_line(
        env,
        f"stop hook: {record['event']}",
        seq=record["seq"],
        stop_reason=record["payload"].get("stop_reason"),
    )


def hook_log(env: dict[str, str]) -> str:
    """The run's hook log: `hooks.jsonl` in its output directory, beside the stop file."""
    return os.path.join(os.path.dirname(env["HATCHDOIT_STOP_FILE"]), "hooks.jsonl")


def log_line(env: dict[str, str], msg: str, level: str = "INFO", **fields: Any) -> None:
    entry = {
        "ts": now_iso(),
        "level": level,
        "component": "hooks",
        "msg": msg,
        "taskspec_id": env["HATCHDOIT_TASKSPEC_ID"],
        "agent_type": env["HATCHDOIT_ROLE"],
        "attempt": int(env["HATCHDOIT_ATTEMPT"]),
        **{k: v for k, v in fields.items() if v is not None},
    }
    append_line(hook_log(env), json.dumps(entry, default=str))


def mark_healthy(env: dict[str, str]) -> None:
    """A normal stop: the provider answered (provider_runs/gate.py reads the marker)."""
    path = env.get("HATCHDOIT_HEALTHY_FILE")
    if path:
        touch(path)


def already_stopped(env: dict[str, str]) -> bool:
    try:
        previous = read_json(env["HATCHDOIT_STOP_FILE"])
    except (OSError, ValueError):
        return False
    return isinstance(previous, dict) and previous.get("run_token") == env["HATCHDOIT_RUN_TOKEN"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        print(f"stop_hook: missing environment {', '.join(missing)}", file=sys.stderr)
        return 2
    event_arg = args[0] if args else "stop"
    payload = read_payload(args[1:])
    event = event_of(event_arg, payload)
    if event == "stop" and env.get("HATCHDOIT_STOP_GUARD", "0") not in ("", "0"):
        from hatchdoit.agents.stop_guard import guard_block

        reason = guard_block(env, payload)
        if reason is not None:
            print(json.dumps({"decision": "block", "reason": reason}))
            return 0
    notes = env.get("HATCHDOIT_HOOK_NOTES")
    if event == "stop":
        mark_healthy(env)
    if notes:
        note = {"event": event, "at": now_iso(), **kept_payload(event, payload)}
        append_line(notes, json.dumps(note, default=str))
        log_line(env, f"stop hook noted {event} for the headless runner")
        return 0
    if event == "session_end" and already_stopped(env):
        log_line(env, "session ended after its stop", reason=payload.get("reason"))
        return 0
    write_stop(build_record(event_arg, payload, env), env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
