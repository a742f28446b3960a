"""Atomic file writes: temp file in the same directory, fsync, os.replace, fsync the directory.

Every agent stop runs this module in a fresh `python -I -S` (the stop hook), so it works on
path strings with os and os.path: pathlib and tempfile would be ~11 ms of the hook's ~35 ms.
Paths may be given as str or pathlib.Path.
"""

from __future__ import annotations

import contextlib
import json
import os

# Not typing.TYPE_CHECKING: importing typing costs the stop hook's Python 3 ms at every stop.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]

_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_atomic(path: StrPath, data: bytes | str) -> None:
    """Write `data` to `path` so readers see either the old file or the whole new one."""
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    os.makedirs(directory, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = _new_temp(directory, os.path.basename(target))
    try:
        try:  # keep the mode of the file being replaced; new files get rw-r--r--
            os.fchmod(fd, os.stat(target).st_mode & 0o7777)
        except FileNotFoundError:
            os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_dir(directory)


def create_atomic(path: StrPath, data: bytes | str) -> bool:
    """Write `data` to `path` only if `path` does not exist, whole or not at all: the file is
    filled under a temporary name and hard-linked into place (link refuses an existing name).
    False when `path` exists already (another writer's, or ours from before)."""
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    os.makedirs(directory, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = _new_temp(directory, os.path.basename(target))
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
    finally:
        _unlink_quietly(tmp)
    _fsync_dir(directory)
    return True


def touch(path: StrPath) -> None:
    """Create an empty marker file (its existence is what it says) unless it exists; an error
    is quietly nothing: a marker is a hint that may be missing."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def _new_temp(directory: str, name: str) -> tuple[int, str]:
    """A new hidden file `.<name>.<random>.tmp` beside the target, created exclusively: what
    tempfile.mkstemp does (O_EXCL, mode 0600), without its import."""
    while True:
        tmp = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o600), tmp
        except FileExistsError:
            continue


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def keep_as_backup(path: StrPath, backup: StrPath, content: bytes) -> None:
    """Make `backup` hold what `path` holds now (`content`), before `path` is replaced.

    A hard link to `path`'s own inode, renamed over `backup`: no data is written (so a full
    disk cannot tear it) and no fsync is needed for it, the file having been made durable when
    it was written; the directory fsync of the write that replaces `path` covers the rename.
    Where hard links are not supported, `content` is written atomically instead."""
    kept = os.fspath(backup)
    tmp = os.path.join(os.path.dirname(kept), f".{os.path.basename(kept)}.{os.getpid()}.link")
    try:
        _unlink_quietly(tmp)
        os.link(path, tmp)
    except OSError:
        write_atomic(kept, content)
        return
    try:
        os.replace(tmp, kept)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def write_json_atomic(path: StrPath, value: Any) -> None:
    """Serialise `value` as indented JSON and write it atomically."""
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: StrPath) -> Any:
    """Parse a JSON file; raises OSError or ValueError."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def append_line(path: StrPath, line: str) -> None:
    """Append one line with a single write on an O_APPEND descriptor (atomic for short lines)."""
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
