"""flock-based locks: one process works on a TaskSpec at a time."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hatchdoit.core.errors import BusyError


@contextmanager
def exclusive(path: Path, what: str, *, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive flock on `path`; without `wait`, fail at once if another process has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise BusyError(
                f"{what} is being built by another process (pid {holder})",
                path=path,
                fix="wait for that build to finish, or stop it, then rerun",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


@contextmanager
def slot(
    directory: Path, count: int, on_wait: Callable[[float], None], rank: int | None = None
) -> Iterator[int]:
    """Hold one of `count` slots (flock files); wait, calling `on_wait(seconds)`, while all are
    taken. Bounds how many agent sessions run at once across every doit worker process.

    With a `rank` (the TaskSpec's place in the build's start order, 0 first), a free slot goes
    to the waiter of the lowest rank: a step does not take one while a live waiter ranked
    before it waits (each waiter says so with a file under `waiting/`)."""
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pause = threading.Event()
    queue = directory / "waiting"
    mine = queue / f"{rank:09d}-{os.getpid()}" if rank is not None else None
    try:
        while True:
            if mine is None or not _ranked_before(queue, mine.name):
                for index in range(count):
                    fd = os.open(directory / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        continue
                    if mine is not None:
                        mine.unlink(missing_ok=True)
                    try:
                        yield index
                    finally:
                        os.close(fd)
                    return
            if mine is not None and not mine.exists():
                queue.mkdir(exist_ok=True)
                mine.touch()
            on_wait(time.monotonic() - started)
            pause.wait(0.2)  # flock has no wake-up event to wait on
    finally:
        if mine is not None:
            mine.unlink(missing_ok=True)


def _ranked_before(queue: Path, name: str) -> bool:
    """Whether a live waiter (file `<rank>-<pid>`) ranks before `name`; dead ones are removed."""
    try:
        names = os.listdir(queue)
    except FileNotFoundError:
        return False
    for other in names:
        if other >= name:
            continue
        _, _, pid = other.partition("-")
        if pid.isdigit() and pid_alive(int(pid)):
            return True
        (queue / other).unlink(missing_ok=True)
    return False


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (ours or someone else's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, someone else's
    return True
