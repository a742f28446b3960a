"""Structured JSON-lines logs, one file per component, errors also collected in `_logs/errors/`."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hatchdoit.atomicio import append_line

LEVEL_NAMES = {
    logging.CRITICAL: "CRITICAL",
    logging.ERROR: "ERROR",
    logging.WARNING: "WARN",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBUG",
}
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_MIN_SECRET_LEN = 8


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look like secrets."""
    env = os.environ if environ is None else environ
    return sorted(
        (v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN),
        key=len,
        reverse=True,
    )


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Replace every known secret value in `text` with `***`."""
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, "***")
    return text


class JsonLinesHandler(logging.Handler):
    """Append one JSON object per record to a file, with one write per line."""

    def __init__(self, path: Path, component: str) -> None:
        super().__init__()
        self.path = path
        self.component = component

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry: dict[str, Any] = {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                    timespec="milliseconds"
                ),
                "level": LEVEL_NAMES.get(record.levelno, record.levelname),
                "component": self.component,
                "msg": record.getMessage(),
                "pid": record.process,
            }
            context = getattr(record, "ctx", None)
            if context:
                entry.update(context)
            if record.exc_info and record.exc_info[1] is not None:
                entry["error"] = repr(record.exc_info[1])
            append_line(self.path, redact(json.dumps(entry, ensure_ascii=False, default=str)))
        except Exception:  # logging must never break a step; report through logging's hook
            self.handleError(record)


@cache
def get_logger(logs_dir: Path, component: str, level: str = "INFO") -> logging.Logger:
    """A logger writing `_logs/<component>/<component>.jsonl`; ERROR+ also to `_logs/errors/`."""
    logger = logging.getLogger(f"hatchdoit.{component}.{logs_dir}")
    logger.propagate = False
    logger.setLevel("WARNING" if level == "WARN" else level)
    logger.addHandler(JsonLinesHandler(logs_dir / component / f"{component}.jsonl", component))
    errors = JsonLinesHandler(logs_dir / "errors" / "errors.jsonl", component)
    errors.setLevel(logging.ERROR)
    logger.addHandler(errors)
    return logger


def log(logger: logging.Logger, level: int, msg: str, **context: Any) -> None:
    """Log with context fields (taskspec_id, agent_type, attempt, operation, ...)."""
    logger.log(level, msg, extra={"ctx": {k: v for k, v in context.items() if v is not None}})
