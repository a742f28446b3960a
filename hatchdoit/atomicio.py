"""Atomic file writes: temp file in the same directory, fsync, os.replace, fsync the directory."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

# Not typing.TYPE_CHECKING: importing typing costs the stop hook's Python 3 ms at every stop.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` so readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:  # keep the mode of the file being replaced; new files get rw-r--r--
            os.fchmod(fd, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def keep_as_backup(path: Path, backup: Path, content: bytes) -> None:
    """Make `backup` hold what `path` holds now (`content`), before `path` is replaced.

    A hard link to `path`'s own inode, renamed over `backup`: no data is written (so a full
    disk cannot tear it) and no fsync is needed for it, the file having been made durable when
    it was written; the directory fsync of the write that replaces `path` covers the rename.
    Where hard links are not supported, `content` is written atomically instead."""
    tmp = backup.with_name(f".{backup.name}.{os.getpid()}.link")
    try:
        tmp.unlink(missing_ok=True)
        os.link(path, tmp)
    except OSError:
        write_atomic(backup, content)
        return
    try:
        os.replace(tmp, backup)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, value: Any) -> None:
    """Serialise `value` as indented JSON and write it atomically."""
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path) -> Any:
    """Parse a JSON file; raises OSError or ValueError."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def append_line(path: Path, line: str) -> None:
    """Append one line with a single write on an O_APPEND descriptor (atomic for short lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
