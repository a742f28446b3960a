"""The scripted agent's provider, for tests and demos of provider faults: with
SCRIPTED_PROVIDER=<file> it reads that JSON file before it answers a prompt, as a CLI would call
its API. {"kind": "usage_limit", "until": <unix seconds>, "message": "..."} makes every prompt
before `until` fail with that fault (a provider's limit, shared by every session); `"for_s": N`
instead of `until` starts an N-second limit at the first prompt; without either the fault lasts
until the file changes (a bad key: {"kind": "auth"}). No file, or one
whose `until` has passed: the provider answers. `"quiet": true`: the agent gives no sign that
the provider answered (as a CLI without one) until its normal stop."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path


def provider_fault() -> dict[str, object] | None:
    """The fault the provider serves now, as a stop-failure payload; None when it answers."""
    path = os.environ.get("SCRIPTED_PROVIDER")
    if not path:
        return None
    state = _state(Path(path))
    if state is None:
        return None
    until = state.get("until")
    if isinstance(until, int | float) and time.time() >= until:
        return None
    message = str(state.get("message") or f"scripted provider: {state['kind']}")
    payload: dict[str, object] = {"kind": state["kind"], "message": message, "error": message}
    if isinstance(until, int | float):
        payload["resets_at"] = until
    return payload


def _state(path: Path) -> dict[str, object] | None:
    """The provider's state; a limit given as `for_s` starts when it is first asked (under a lock,
    so that every session sees one `until`), whenever the build gets there."""
    try:
        with open(f"{path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(state, dict) or not state.get("kind"):
                return None
            span = state.get("for_s")
            if "until" not in state and isinstance(span, int | float):
                state["until"] = time.time() + span
                scratch = path.with_name(f".{path.name}.{os.getpid()}")
                scratch.write_text(json.dumps(state), encoding="utf-8")
                os.replace(scratch, path)
            return state
    except (OSError, ValueError):
        return None


def provider_answered() -> None:
    """Tell hatchdoit the provider answered (its healthy marker), unless the provider is quiet."""
    marker = os.environ.get("HATCHDOIT_HEALTHY_FILE")
    path = os.environ.get("SCRIPTED_PROVIDER")
    state = _state(Path(path)) if path else None
    if marker and not (state is not None and state.get("quiet")):
        with contextlib.suppress(OSError):
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644))
