"""Secrets from the environment never stay in captures: screens, pane logs and test logs are
redacted."""

from __future__ import annotations

from pathlib import Path

from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.logs import redact, secret_values


def redact_file(path: Path) -> bool:
    """Rewrite `path` atomically with secret values replaced; True if anything changed."""
    secrets = secret_values()
    if not secrets or not path.is_file():
        return False
    text = path.read_text(encoding="utf-8", errors="replace")
    cleaned = redact(text, secrets)
    if cleaned == text:
        return False
    write_atomic(path, cleaned)
    return True
