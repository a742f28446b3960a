"""Notices waiting to be sent: a step with something to tell people (a TaskSpec escalated) posts
one here, and the observer side (observe/notify.py) sends it with the configured notify command.

A notice is a file `_logs/notify/pending/<key>.json`; once sent it moves to `sent/`. A send that
fails leaves it pending, so the next delivery (the next build, `hatchdoit ci`) tries again, and a
key already pending or sent is never posted twice: the same escalation of the same inputs is told
once. Steps post notices; they never run the command themselves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from hatchdoit.core.atomicio import create_atomic
from hatchdoit.core.clock import now_iso
from hatchdoit.layout import Layout

NoticeState = Literal["pending", "sent"]


def notice_path(layout: Layout, state: NoticeState, key: str) -> Path:
    return layout.logs / "notify" / state / f"{key}.json"


def post_notice(layout: Layout, event: str, key: str, payload: dict[str, Any]) -> bool:
    """Queue notice `key` for `event` with `payload`; False when it is pending or sent already."""
    if notice_path(layout, "sent", key).exists():
        return False
    document = {"event": event, "key": key, "posted_at": now_iso(), "payload": payload}
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return create_atomic(notice_path(layout, "pending", key), text)


def pending_notices(layout: Layout) -> list[Path]:
    """The pending notices, oldest key first (keys sort by name, so order is stable)."""
    directory = layout.logs / "notify" / "pending"
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    return [directory / name for name in names]


def mark_sent(layout: Layout, pending: Path) -> None:
    """Move a pending notice to `sent/` (after its command succeeded)."""
    sent = notice_path(layout, "sent", pending.stem)
    sent.parent.mkdir(parents=True, exist_ok=True)
    os.replace(pending, sent)
