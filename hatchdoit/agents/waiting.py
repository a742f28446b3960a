"""Waiting on files without fixed sleeps: inotify wakes the waiter, a slow poll backs it up."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from hatchdoit.core.step_imports import import_in_step

T = TypeVar("T")

# Stopping an observer while inotify delivers an event makes watchdog log a harmless error on the
# root handler (stderr); our waits re-check the files themselves, so keep it out of user output.
logging.getLogger("watchdog.observers.inotify").addHandler(logging.NullHandler())
logging.getLogger("watchdog.observers.inotify").propagate = False


# Reads are not changes: watchdog (>= 4) also reports opens and read-only closes, and the
# waiter's own check reads the files it waits on, so each check woke the next one at once: a
# busy loop (with a tmux call per turn) for as long as the awaited file already existed.
_READS = {"opened", "closed_no_write"}


def _is_change(event: Any) -> bool:
    """Whether a watchdog event means the directory's content changed (see _READS)."""
    if event.event_type in _READS:
        return False
    if event.is_directory and event.event_type == "modified":
        return False  # the watched directory's own mtime: the file's event says more
    # Atomic writers (ours, the stop hook, launch_agent.sh) fill a hidden temp file, then
    # rename it: only the rename, whose destination is visible, means something. Waking
    # on the temp file ran the waiter's slower checks just as the real file arrived.
    paths = (event.src_path, getattr(event, "dest_path", "") or "")
    names = [os.path.basename(os.fsdecode(p)) for p in paths if p]
    return not (names and all(name.startswith(".") for name in names))


# watchdog holds an inotify IN_MOVED_FROM for up to `delay` (0.5 s) to pair it with its
# IN_MOVED_TO into one moved event. When its emitter thread takes the held half before the
# other half arrives, it sleeps out the whole hold, and every event behind it waits too: a stop
# file renamed into place woke the waiter 0.5 s late in about 1 wait in 70 (the bench: 6 of
# 400, exactly 501-503 ms). A wait only needs to know that something changed, never what moved
# where, so the hold is 0: an unpaired rename is then a deletion of the hidden temp file and a
# creation of the visible one, which wakes the wait as the paired event does.
_MOVE_PAIRING = (
    ("watchdog.observers.inotify_move_event_grouper", "InotifyMoveEventGrouper"),  # watchdog 7
    ("watchdog.observers.inotify_buffer", "InotifyBuffer"),  # watchdog 4-6
)


@cache
def no_move_pairing_hold() -> None:
    """Set watchdog's hold of a rename's first half to 0 (above), before an observer starts."""
    for module_name, class_name in _MOVE_PAIRING:
        try:
            holder = getattr(import_in_step(module_name), class_name)
        except (ImportError, AttributeError, OSError):  # another watchdog, or no inotify here
            continue
        holder.delay = 0


def _observer(directory: Path, changed: threading.Event) -> Any:
    """A started watchdog observer that sets `changed` on every change in `directory`.
    watchdog is imported here, at the first wait (step_imports.py says why)."""
    handler_base = import_in_step("watchdog.events").FileSystemEventHandler
    no_move_pairing_hold()

    class Wake(handler_base):  # type: ignore[misc, valid-type]
        def on_any_event(self, event: Any) -> None:
            if _is_change(event):
                changed.set()

    observer = import_in_step("watchdog.observers").Observer()
    observer.schedule(Wake(), str(directory), recursive=False)
    observer.daemon = True
    observer.start()
    return observer


class DirWatch:
    """Context manager: any change in `directory` wakes `wait()` at once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.changed = threading.Event()
        self._observer: Any = None

    def __enter__(self) -> DirWatch:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._observer = _observer(self.directory, self.changed)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)

    def wait(self, timeout: float) -> bool:
        """Block until a change or `timeout`; True if something changed."""
        woke = self.changed.wait(timeout)
        self.changed.clear()
        return woke


def wait_until(
    check: Callable[[], T | None],
    *,
    watch: DirWatch,
    timeout: float,
    poll: float,
) -> T | None:
    """Call `check` on every change (and every `poll` seconds) until it returns a value or time
    runs out (None)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        watch.wait(min(poll, left))


def screen_ready(
    capture: Callable[[], str | None],
    pattern: str,
    *,
    wake_dir: Path,
    timeout: float,
    poll: float,
) -> bool:
    """Wait until the captured screen matches `pattern` (True), the session is gone or time is up
    (False). Pane output lands in the pipe-pane log in `wake_dir`, so inotify wakes each check."""
    regex = re.compile(pattern, re.MULTILINE)

    def check() -> bool | None:
        screen = capture()
        if screen is None:
            return False
        return True if regex.search(screen) else None

    with DirWatch(wake_dir) as watch:
        return bool(wait_until(check, watch=watch, timeout=timeout, poll=poll))
