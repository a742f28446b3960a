"""Structured JSON-lines logs, one file per component, errors also collected in `_logs/errors/`."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

LEVEL_NAMES = {
    logging.CRITICAL: "CRITICAL",
    logging.ERROR: "ERROR",
    logging.WARNING: "WARN",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBUG",
}
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_MIN_SECRET_LEN = 8


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential (..._API_KEY, ..._TOKEN,
    ..._SECRET, ..._PASSWORD, ...)."""
    return _SECRET_NAME.search(name) is not None


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look like secrets."""
    env = os.environ if environ is None else environ
    return sorted(
        (v for k, v in env.items() if looks_secret(k) and len(v) >= _MIN_SECRET_LEN),
        key=len,
        reverse=True,
    )


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Replace every known secret value in `text` with `***`."""
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, "***")
    return text


class JsonLinesHandler(logging.Handler):
    """Append one JSON object per record to a file, with one write per line.

    A line that cannot be written (full disk, unwritable `_logs/`) is dropped and counted, not
    sent to logging's `handleError` (which prints a traceback per line): the step that hits the
    same error reports it in its own one line. The first drop in a process prints one line;
    the count is written to the log as a WARN entry as soon as the file is writable again."""

    drop_reported: ClassVar[bool] = False  # one stderr line per process, however many drops

    def __init__(self, path: Path, component: str, rotation: Rotation) -> None:
        super().__init__()
        self.path = path
        self.component = component
        self.rotation = rotation
        self.dropped = 0  # lines dropped since the last line that was written
        self.drop_reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry: dict[str, Any] = {
                "ts": _timestamp(record.created),
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
            line = redact(json.dumps(entry, ensure_ascii=False, default=str))
            if self.dropped:
                self._append(self._gap_line())
                self.dropped = 0
            self._append(line)
        except OSError as exc:
            self._drop(exc)
        except Exception:  # a bug in formatting a record: logging's hook shows it
            self.handleError(record)

    def _append(self, line: str) -> None:
        append_rotating(self.path, line, self.rotation)

    def _gap_line(self) -> str:
        return json.dumps(
            {
                "ts": _timestamp(time.time()),
                "level": LEVEL_NAMES[logging.WARNING],
                "component": self.component,
                "msg": f"{self.dropped} log line(s) could not be written: {self.drop_reason}",
                "pid": os.getpid(),
                "operation": "log",
                "dropped": self.dropped,
            },
            ensure_ascii=False,
        )

    def _drop(self, exc: OSError) -> None:
        self.dropped += 1
        self.drop_reason = f"{exc.filename or self.path}: {exc.strerror or exc}"
        if not JsonLinesHandler.drop_reported:
            JsonLinesHandler.drop_reported = True
            print(
                f"hatchdoit: cannot write log {self.drop_reason}; dropping log lines that "
                "cannot be written (their count is logged once the log is writable)",
                file=sys.stderr,
            )


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


@cache
def get_logger(
    logs_dir: Path, component: str, level: str = "INFO", rotation: Rotation | None = None
) -> logging.Logger:
    """A logger writing `_logs/<component>/<component>.jsonl`, rotated by `rotation` (the
    project's `logs:` settings; none: never); ERROR+ also to `_logs/errors/`."""
    rotation = rotation or Rotation()
    logger = logging.getLogger(f"hatchdoit.{component}.{logs_dir}")
    logger.propagate = False
    logger.setLevel("WARNING" if level == "WARN" else level)
    for older in list(logger.handlers):  # the same file asked for with other settings: these win
        logger.removeHandler(older)
    path = logs_dir / component / f"{component}.jsonl"
    logger.addHandler(JsonLinesHandler(path, component, rotation))
    errors = JsonLinesHandler(logs_dir / "errors" / "errors.jsonl", component, rotation)
    errors.setLevel(logging.ERROR)
    logger.addHandler(errors)
    return logger


def log(logger: logging.Logger, level: int, msg: str, **context: Any) -> None:
    """Log with context fields (taskspec_id, agent_type, attempt, operation, ...)."""
    logger.log(level, msg, extra={"ctx": {k: v for k, v in context.items() if v is not None}})


# --------------------------------------------------------------------------------------------
# Rotation and retention. Every writer opens the file by name for each line (O_APPEND), so a
# rename never loses a line: a writer that opened the old file just before the rename appends
# to the rotated file instead. One rotator at a time (a flock beside the file), and the inode
# check under that lock makes a second process that also saw the size limit passed do nothing.


@dataclass(frozen=True)
class Rotation:
    max_bytes: int = 0  # 0: never rotate on size
    backups: int = 5
    retention_days: float = 0.0  # 0: keep rotated files whatever their age


def rotated_files(path: Path) -> list[Path]:
    """`path.1`, `path.2`, ... that exist, newest first."""
    found = []
    for candidate in path.parent.glob(f"{path.name}.*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            found.append((int(suffix), candidate))
    return [p for _, p in sorted(found)]


def append_rotating(path: Path, line: str, rotation: Rotation) -> None:
    """Append one line with a single write; rotate when the file passed `max_bytes`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if rotation.max_bytes and st.st_size > rotation.max_bytes:
        rotate(path, rotation, inode=st.st_ino)


@contextmanager
def rotation_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """The lock a rotation of `path` holds (exclusive) while it renames the files. A reader that
    walks the names takes it shared: mid-rotation `.1` is briefly missing while the older files
    already sit one name further, and a walk that met that gap stopped short of them. Waits
    (rotations take microseconds): giving up when busy lets a file grow unbounded while writers
    keep finding the lock taken by rotators whose inode check fails. A reader that cannot open
    the lock file (a read-only directory) reads unlocked."""
    fd: int | None = None
    try:
        fd = os.open(path.parent / f".{path.name}.rotate.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if not shared:
            raise
    if fd is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def rotate(path: Path, rotation: Rotation, *, inode: int | None = None) -> bool:
    """Rename `path` to `path.1` (shifting older ones), keep `backups` files, drop expired ones.
    With `inode`, only if `path` is still that file and still over the limit. True if rotated."""
    with rotation_lock(path):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        if inode is not None and (st.st_ino != inode or st.st_size <= rotation.max_bytes):
            return False
        if rotation.backups == 0:
            os.unlink(path)
        else:
            for older in reversed(rotated_files(path)):
                number = int(older.name.rsplit(".", 1)[1])
                if number >= rotation.backups:
                    older.unlink(missing_ok=True)
                else:
                    os.replace(older, path.with_name(f"{path.name}.{number + 1}"))
            os.replace(path, path.with_name(f"{path.name}.1"))
        prune(path, rotation)
        return True


def prune(path: Path, rotation: Rotation, now: float | None = None) -> list[Path]:
    """Delete rotated files beyond `backups` or older than `retention_days`; return them."""
    now = time.time() if now is None else now
    removed = []
    for older in rotated_files(path):
        number = int(older.name.rsplit(".", 1)[1])
        try:
            expired = (
                rotation.retention_days > 0
                and now - older.stat().st_mtime > rotation.retention_days * 86400
            )
        except FileNotFoundError:
            continue
        if number > rotation.backups or expired:
            older.unlink(missing_ok=True)
            removed.append(older)
    return removed


def component_logs(logs_dir: Path) -> list[Path]:
    """Every component's current `.jsonl` log under `logs_dir`."""
    return sorted(p for p in logs_dir.glob("*/*.jsonl") if p.stem == p.parent.name)


def maintain_logs(logs_dir: Path, rotation: Rotation) -> list[Path]:
    """At the start of a build: rotate logs over the size limit, apply retention everywhere
    (covers logs written by other programs, e.g. the stop hook's `hooks.jsonl`)."""
    removed: list[Path] = []
    for path in component_logs(logs_dir):
        try:
            st = path.stat()
        except FileNotFoundError:  # rotated away by a writer meanwhile
            continue
        if rotation.max_bytes and st.st_size > rotation.max_bytes:
            rotate(path, rotation, inode=st.st_ino)
        removed += prune(path, rotation)
    return removed
