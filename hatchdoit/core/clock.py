"""Timestamps as every record writes them (UTC, ISO 8601, milliseconds). Standard library only:
the stop hook imports it and must start fast."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
