"""What the operating system says about a doit worker process, for build/workers.py: whether it
ended and how (without reaping it), the CPU the build's processes used, and a worker's death
with the build's main process. Each with the fallback core/platform.py names where the platform
lacks the Linux means (pidfd, waitid(WNOWAIT), PR_SET_PDEATHSIG, /proc)."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable

from hatchdoit.core import platform

PR_SET_PDEATHSIG = 1
RUNNING, GONE = "running", "gone"


def fork_workers() -> None:
    """Make doit's workers forks of the building process: they inherit its loaded tasks, the
    build lock and workers.py's fork hooks. macOS starts processes by spawn by default (and
    Linux from Python 3.14 by forkserver), where none of that would hold."""
    if multiprocessing.get_start_method(allow_none=True) != "fork":
        multiprocessing.set_start_method("fork", force=True)


def peek_child(pid: int) -> str | tuple[int, int] | None:
    """How the child `pid` stands, without reaping it (doit's Process.join() does): RUNNING,
    GONE (already reaped), (si_code, si_status) once it ended, or None when it ended but this
    platform cannot say how (no waitid: psutil sees a zombie)."""
    if platform.has_waitid_nowait():
        try:
            result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return GONE
        return RUNNING if result is None else (result.si_code, result.si_status)
    import psutil  # only where waitid is missing

    try:
        child = psutil.Process(pid)
        if child.ppid() != os.getpid():
            return GONE  # reaped, and the pid already reused
        zombie = child.status() == psutil.STATUS_ZOMBIE
    except psutil.ZombieProcess:  # macOS answers some questions about a zombie with this
        return None
    except psutil.NoSuchProcess:
        return GONE
    return None if zombie else RUNNING


def cpu_of_build(workers: set[int]) -> int:
    """CPU used so far by the main thread and the live workers, in clock ticks (10 ms where
    there is no /proc). Without /proc: the process's time less the calling (watching)
    thread's own, and psutil for the workers."""
    if platform.has_proc():
        main = threading.main_thread().native_id
        return _cpu_ticks(f"/proc/self/task/{main}/stat") + sum(
            _cpu_ticks(f"/proc/{pid}/stat") for pid in workers
        )
    import resource

    import psutil  # only where there is no /proc

    usage = resource.getrusage(resource.RUSAGE_SELF)
    seconds = usage.ru_utime + usage.ru_stime - time.thread_time()
    for pid in workers:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        seconds += times.user + times.system
    return int(seconds * 100)


def _cpu_ticks(stat_path: str) -> int:
    """utime + stime of a process or thread, in clock ticks (0 if it is gone)."""
    try:
        with open(stat_path, "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def die_with_parent() -> Callable[[], None]:
    """What a forked worker calls first so that it dies with the build's main process:
    prctl(PR_SET_PDEATHSIG, SIGKILL), resolved now (the forked child must not dlopen); where
    there is no such call, a thread of the worker that ends it once the main process is gone."""
    if not platform.has_pdeathsig():
        parent_r, parent_w = os.pipe()  # the main process keeps the only write end

        def watch_parent() -> None:
            os.close(parent_w)
            threading.Thread(
                target=_die_with, args=(parent_r,), name="hatchdoit-parent", daemon=True
            ).start()

        return watch_parent
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_it() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return set_it


def _die_with(parent_r: int) -> None:
    """In a worker: block until the main process's end of the pipe closes (it died, or exited
    without joining this worker), then SIGKILL this worker as PR_SET_PDEATHSIG would."""
    with contextlib.suppress(OSError):
        while os.read(parent_r, 1):
            pass
    os.kill(os.getpid(), signal.SIGKILL)
