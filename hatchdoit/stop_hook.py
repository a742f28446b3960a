"""Entry point of scripts/agent/stop_hook.sh: turn an agent's stop event into a `.stop` file.

Usage: stop_hook.sh EVENT [PAYLOAD_JSON]. The payload comes from the last argument (Codex notify)
or stdin (Claude Code hooks). Paths and the run token come from the environment the orchestrator
gave the agent's session. Prints nothing, so Claude Code lets the agent stop.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from hatchdoit.atomicio import append_line, read_json, write_json_atomic
from hatchdoit.records import StopRecord, now_iso

EVENTS = {
    "stop": "stop",
    "Stop": "stop",
    "agent-turn-complete": "stop",
    "stop-failure": "stop_failure",
    "StopFailure": "stop_failure",
    "session-end": "session_end",
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
    "type",
    "thread-id",
    "turn-id",
    "last-assistant-message",
)


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


def build_record(event_arg: str, payload: dict[str, Any], env: dict[str, str]) -> StopRecord:
    stop_file = Path(env["HATCHDOIT_STOP_FILE"])
    token = env["HATCHDOIT_RUN_TOKEN"]
    seq = 1
    try:
        previous = read_json(stop_file)
        if previous.get("run_token") == token:
            seq = int(previous.get("seq", 1)) + 1
    except (OSError, ValueError, AttributeError):
        pass
    event = EVENTS.get(event_arg) or EVENTS.get(str(payload.get("hook_event_name", "")), "stop")
    kept = {k: payload[k] for k in KEPT_PAYLOAD_KEYS if k in payload}
    return StopRecord(
        run_token=token,
        taskspec_id=env["HATCHDOIT_TASKSPEC_ID"],
        role=env["HATCHDOIT_ROLE"],  # type: ignore[arg-type]
        attempt=int(env["HATCHDOIT_ATTEMPT"]),
        event=event,  # type: ignore[arg-type]
        source="hook",
        seq=seq,
        reason=str(payload.get("reason") or payload.get("error") or ""),
        payload=kept,
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    missing = [name for name in REQUIRED_ENV if not env.get(name)]
    if missing:
        print(f"stop_hook: missing environment {', '.join(missing)}", file=sys.stderr)
        return 2
    event_arg = args[0] if args else "stop"
    record = build_record(event_arg, read_payload(args[1:]), env)
    stop_file = Path(env["HATCHDOIT_STOP_FILE"])
    write_json_atomic(stop_file, record.model_dump(mode="json"))
    logs_dir = env.get("HATCHDOIT_LOGS_DIR")
    if logs_dir:
        entry = {
            "ts": now_iso(),
            "level": "INFO",
            "component": "hooks",
            "msg": f"stop hook: {record.event}",
            "taskspec_id": record.taskspec_id,
            "agent_type": record.role,
            "attempt": record.attempt,
            "seq": record.seq,
        }
        append_line(Path(logs_dir) / "hooks" / "hooks.jsonl", json.dumps(entry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
