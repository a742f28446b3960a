"""SIGINT and SIGTERM end a build cleanly: no traceback, a clear line, a non-zero exit.

Artifacts are written atomically, so stopping anywhere leaves them consistent; agent sessions
keep running in tmux and the next `doit` re-attaches to them. Installing this also starts the
supervision of `doit -n N` workers (workers.py): a dead worker, or a dead main process.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from hatchdoit.build import workers
from hatchdoit.build.runlock import held_lock_path

_main_pid: list[int] = []


def install(socket: str) -> None:
    """Turn SIGINT/SIGTERM into SystemExit(128 + signal) in this process and doit's workers,
    and supervise the workers (called once, in the process that builds, after it took the lock)."""
    if _main_pid:
        return
    _main_pid.append(os.getpid())
    workers.supervise(socket, held_lock_path())

    def stop(signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != _main_pid[0]:
            os._exit(128 + signum)  # a doit worker: nothing to unwind, every write is atomic
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one message, even if signals repeat
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        workers.stopping()  # the workers ending now are not lost ones
        workers.stop_workers()
        name = signal.Signals(signum).name
        print(
            f"\nhatchdoit: stopped by {name}; finished steps are kept, agent sessions keep "
            f"running (tmux -L {socket} ls); run doit again to resume",
            file=sys.stderr,
        )
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
