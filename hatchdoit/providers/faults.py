"""A provider fault from what an agent CLI reported, by the tables of fault_tables.py: a stream
event, a hook payload, a final message or the screen. Structured signals first, text second.

A fault is a plain dict, since the stop hook and the headless runner write it into the `.stop`
(`payload.provider_fault`) from a fresh interpreter: {"class": one of FAULT_CLASSES,
"message": what the CLI said, "signal": stream | result | hook | screen | exit, "cli": ...,
"resets_at": ISO-8601 UTC (when the CLI said when), "retry_after_s": seconds (when it said)}.
Standard library only.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hatchdoit.providers.fault_tables import CLAUDE_CODE, CODEX, CliTable
from hatchdoit.records.fault_classes import FAULT_CLASSES

Fault = dict[str, Any]
_MESSAGE_LIMIT = 500


def make_fault(
    cls: str,
    message: str,
    signal: str,
    cli: str,
    resets_at: datetime | None = None,
    retry_after_s: float | None = None,
) -> Fault:
    found: Fault = {"class": cls, "message": message.strip()[:_MESSAGE_LIMIT], "signal": signal}
    found["cli"] = cli
    if resets_at is not None:
        found["resets_at"] = utc_text(resets_at)
    if retry_after_s is not None:
        found["retry_after_s"] = round(float(retry_after_s), 3)
    return found


def utc_text(moment: datetime) -> str:
    """A reset in UTC, to the second, rounded up (a wait must not end before it)."""
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_text(table: CliTable, text: str, signal: str, now: datetime) -> Fault | None:
    """The first line of `text` that a pattern of `table` matches, as a fault."""
    for line in text.splitlines() or [text]:
        for pattern, cls in table.texts:
            found = pattern.search(line)
            if found is None:
                continue
            groups = found.groupdict()
            reset = _epoch(groups.get("epoch")) or parse_reset(groups.get("reset") or "", now)
            return make_fault(cls, line, signal, table.cli, resets_at=reset)
    return None


def _claude_class(error: object, status: object) -> str | None:
    if isinstance(error, str) and error in CLAUDE_CODE.errors:
        return CLAUDE_CODE.errors[error]
    if isinstance(status, int):
        if status in CLAUDE_CODE.statuses:
            return CLAUDE_CODE.statuses[status]
        if 500 <= status < 600:
            return "server_error"
    return None


def claude_event(event: dict[str, Any], now: datetime) -> Fault | None:
    """A stream-json event of `claude -p` that reports a provider fault."""
    kind, cli = event.get("type"), CLAUDE_CODE.cli
    if kind == "rate_limit_event":
        info = event.get("rate_limit_info") or {}
        if info.get("status") != "rejected":
            return None
        what = str(info.get("rateLimitType") or "usage").replace("_", "-")
        reset = _epoch(info.get("resetsAt"))
        return make_fault("usage_limit", f"{what} limit reached", "stream", cli, resets_at=reset)
    if kind == "system" and event.get("subtype") == "api_retry":
        cls = _claude_class(event.get("error"), event.get("error_status"))
        if cls is None:  # error "unknown" and no status: no answer at all
            cls = "network" if event.get("error_status") is None else "other"
        delay = event.get("retry_delay_ms")
        message = (
            f"API error {event.get('error_status') or event.get('error')}, "
            f"retry {event.get('attempt')}/{event.get('max_retries')}"
        )
        wait = delay / 1000 if isinstance(delay, int | float) else None
        return make_fault(cls, message, "stream", cli, retry_after_s=wait)
    if kind == "result" and event.get("is_error"):
        text = str(event.get("result") or "")
        by_text = from_text(CLAUDE_CODE, text, "result", now)
        if by_text is not None and by_text["class"] == "usage_limit":
            params = event.get("api_error_params") or {}
            info = params.get("rate_limit_info") if isinstance(params, dict) else None
            reset = _epoch((info or {}).get("resetsAt")) if isinstance(info, dict) else None
            if reset is not None:
                by_text["resets_at"] = utc_text(reset)
            return by_text
        named = _claude_class(event.get("api_error"), event.get("api_error_status"))
        if named is not None:
            status = event.get("api_error_status")
            return make_fault(named, text or f"API error {status}", "result", cli)
        return by_text
    return None


def claude_hook(payload: dict[str, Any], now: datetime) -> Fault | None:
    """A StopFailure hook payload of Claude Code: its message (with the reset) first, then the
    error it names."""
    text = str(payload.get("last_assistant_message") or "")
    by_text = from_text(CLAUDE_CODE, text, "hook", now)
    if by_text is not None and by_text["class"] == "usage_limit":
        return by_text  # to the minute: provider_runs/signals.py reads the second
    cls = _claude_class(payload.get("error"), payload.get("api_error_status"))
    if cls is not None:
        return make_fault(cls, text or str(payload.get("error")), "hook", CLAUDE_CODE.cli)
    return by_text


def transcript_reset(path: object, tail: int = 65536) -> datetime | None:
    """The reset of the last rejected rate limit in a Claude Code transcript (its API error
    entry's `apiErrorParams.rate_limit_info.resetsAt`, Unix seconds); None when not there.
    Reads the file's last `tail` bytes only."""
    if not isinstance(path, str) or not path:
        return None
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - tail))
            lines = fh.read().split(b"\n")
    except OSError:
        return None
    for line in reversed(lines):
        if b"resetsAt" not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        params = entry.get("apiErrorParams") if isinstance(entry, dict) else None
        info = params.get("rate_limit_info") if isinstance(params, dict) else None
        if isinstance(info, dict) and info.get("status") == "rejected":
            return _epoch(info.get("resetsAt"))
    return None


def codex_message(message: str, now: datetime) -> Fault | None:
    """An `error` or `turn.failed` message of `codex exec --json`; a retry in progress
    ("Reconnecting... 1/5 (...)") is classified by what it retries."""
    inner = re.match(r"Reconnecting\.\.\. \d+/\d+ \((.*)\)\s*$", message, re.DOTALL)
    found = from_text(CODEX, inner.group(1) if inner else message, "stream", now)
    if found is not None and inner:
        found["retrying"] = True
    return found


def hook_fault(payload: dict[str, Any], signals: str) -> Fault | None:
    """The fault a stop-failure hook payload reports: its `kind` (any CLI), else what its CLI's
    table reads in it."""
    named = generic_payload(payload)
    if named is not None or signals == "generic":
        return named
    now = datetime.now(UTC)
    if signals == "claude":
        return claude_hook(payload, now)
    message = str(payload.get("last_assistant_message") or payload.get("error") or "")
    return codex_message(message, now) if message else None


def generic_payload(payload: dict[str, Any]) -> Fault | None:
    """A `stop-failure` payload that names its `kind` (any CLI, agent-profiles.md)."""
    kind = payload.get("kind")
    if kind not in FAULT_CLASSES:
        return None
    reset = payload.get("resets_at")
    when = _epoch(reset) if isinstance(reset, int | float) else _iso(reset)
    wait = payload.get("retry_after_s")
    message = str(payload.get("message") or payload.get("error") or kind)
    retry = float(wait) if isinstance(wait, int | float) else None
    return make_fault(str(kind), message, "hook", "any CLI", resets_at=when, retry_after_s=retry)


def _epoch(value: object) -> datetime | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(float(value), UTC)
    return None


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_MONTHS = {name: n for n, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul",
    "aug", "sep", "oct", "nov", "dec"), 1)}  # fmt: skip
_RESET = re.compile(
    r"^(?:(?P<month>[A-Za-z]{3})[a-z]* (?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s*(?P<year>\d{4})?,?\s*)?"
    r"(?:at\s+)?(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>[ap]\.?m\.?)?"
    r"\s*(?:\((?P<zone>[^)]+)\))?",
    re.IGNORECASE,
)


def parse_reset(text: str, now: datetime) -> datetime | None:
    """When a limit resets, from the CLI's words: "10:47pm (UTC)", "3pm", "10:28 PM",
    "Dec 7th, 2026 3:04 PM". A time of day alone is its next occurrence (the CLI prints local
    time, to the minute); None when `text` says no time."""
    found = _RESET.match(text.strip())
    if found is None:
        return None
    parts = found.groupdict()
    hour, minute = int(parts["hour"]), int(parts["minute"] or 0)
    half = (parts["half"] or "").lower().replace(".", "")
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or (parts["minute"] is None and not half):
        return None
    zone = _zone(parts["zone"]) or now.astimezone().tzinfo
    local = now.astimezone(zone)
    if parts["month"]:
        month = _MONTHS.get(parts["month"][:3].lower())
        if month is None:
            return None
        year = int(parts["year"] or local.year)
        return local.replace(
            year=year,
            month=month,
            day=int(parts["day"]),
            hour=hour,
            minute=minute,
            second=0,
            microsecond=0,
        )
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at >= local - timedelta(minutes=1) else at + timedelta(days=1)


def _zone(name: str | None) -> Any:
    if not name:
        return None
    if name.upper() in ("UTC", "GMT", "Z"):
        return UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name.strip())
    except (ValueError, KeyError, OSError, ImportError):
        return None
