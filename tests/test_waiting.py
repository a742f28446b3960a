"""DirWatch and wait_until with real inotify: a change wakes the wait itself, not the backup poll,
also where watchdog would hold an event back to pair a rename's two halves."""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

from hatchdoit.agents.waiting import DirWatch, wait_until

# Far above the ~1 ms an inotify wake takes, far below watchdog's 0.5 s hold of a rename's
# first half; a median over several waits, so one slow moment of the machine cannot decide it.
AT_ONCE = 0.25
LONG_POLL = 30.0  # only the event can end a wait early


def test_a_file_moved_out_of_the_directory_wakes_the_wait_at_once(tmp_path: Path) -> None:
    """A rename out of the watched directory is an IN_MOVED_FROM that never gets its other half:
    watchdog held it (and everything behind it) its whole 0.5 s before hatchdoit set the hold
    to 0, so every one of these waits took >= 0.5 s."""
    watched, elsewhere = tmp_path / "hooks", tmp_path / "elsewhere"
    watched.mkdir()
    elsewhere.mkdir()
    for n in range(9):
        (watched / f"f{n}").write_text("x")  # before the watch: only the moves are events
    latencies = []
    with DirWatch(watched) as watch:
        for n in range(9):
            os.rename(watched / f"f{n}", elsewhere / f"f{n}")
            moved = time.perf_counter()
            assert watch.wait(LONG_POLL), "the move was not seen"
            latencies.append(time.perf_counter() - moved)
    assert statistics.median(latencies) < AT_ONCE, latencies


def test_a_file_renamed_into_place_ends_wait_until_from_the_event(tmp_path: Path) -> None:
    """What every stop does: temp file, fsync, rename over the awaited name."""
    watched = tmp_path / "hooks"
    target = watched / "factory-1.stop"
    latencies = []
    with DirWatch(watched) as watch:
        for n in range(1, 21):
            stamp: list[float] = []

            def write(n: int = n, stamp: list[float] = stamp) -> None:
                time.sleep(0.01)
                temp = watched / f".factory-1.stop.{n}.tmp"
                with open(temp, "w", encoding="utf-8") as fh:
                    fh.write(str(n))
                    fh.flush()
                    os.fsync(fh.fileno())
                stamp.append(time.perf_counter())
                os.replace(temp, target)

            writer = threading.Thread(target=write)
            writer.start()

            def arrived(n: int = n) -> int | None:
                text = target.read_text(encoding="utf-8") if target.exists() else ""
                return n if text == str(n) else None

            got = wait_until(arrived, watch=watch, timeout=LONG_POLL, poll=LONG_POLL)
            returned = time.perf_counter()
            writer.join()
            assert got == n
            latencies.append(returned - stamp[0])
    assert statistics.median(latencies) < AT_ONCE, latencies
