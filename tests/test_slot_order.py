"""core/locks.py `slot` with ranks: when a slot frees, the waiting process of the lowest rank
(the TaskSpec first in the build's start order) takes it, not the one that asked first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import retry_until

from hatchdoit.core.locks import slot

# One process asking for the single slot of `directory` with a rank; it notes when it got it,
# then holds it until the file `<directory>/go-<name>` appears.
HOLDER = """
import sys, threading
from pathlib import Path
from hatchdoit.core.locks import slot
directory, name, rank = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with slot(directory, 1, lambda seconds: None, rank):
    with open(directory / "order", "a") as out:
        out.write(name + "\\n")
    while not (directory / f"go-{name}").exists():
        threading.Event().wait(0.05)
"""


def _ask(directory: Path, name: str, rank: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(directory), name, str(rank)])


def _waiting(directory: Path, count: int) -> bool:
    queue = directory / "waiting"
    return queue.is_dir() and len(list(queue.iterdir())) == count


def test_free_slot_goes_to_the_lowest_rank(tmp_path: Path) -> None:
    order = tmp_path / "order"
    procs = [_ask(tmp_path, "first", 9)]
    try:
        retry_until(lambda: order.exists(), what="the first holder got the slot")
        procs.append(_ask(tmp_path, "late", 7))
        retry_until(lambda: _waiting(tmp_path, 1), what="the rank-7 waiter queued")
        procs.append(_ask(tmp_path, "urgent", 2))
        retry_until(lambda: _waiting(tmp_path, 2), what="the rank-2 waiter queued")
        for name in ("first", "urgent", "late"):
            (tmp_path / f"go-{name}").touch()
        for proc in procs:
            assert proc.wait(timeout=30) == 0
    finally:
        for proc in procs:
            proc.kill()
    assert order.read_text().split() == ["first", "urgent", "late"]
    assert list((tmp_path / "waiting").iterdir()) == []


def test_a_dead_waiter_does_not_hold_the_queue(tmp_path: Path) -> None:
    queue = tmp_path / "waiting"
    queue.mkdir()
    argv = [sys.executable, "-c", "import os; print(os.getpid())"]
    dead = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    (queue / f"{0:09d}-{dead}").touch()  # a waiter killed while it waited
    with slot(tmp_path, 1, lambda seconds: None, 5) as index:
        assert index == 0
    assert list(queue.iterdir()) == []
