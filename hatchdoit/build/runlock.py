"""One build at a time per project: the doit process that will run tasks holds `build.lock`.

A second `doit` that would run tasks refuses at once (or waits with HATCHDOIT_LOCK_WAIT=1);
read-only commands (`doit list`, `info`, `help`, ...) never take the lock.

`doit -n N` workers are forked, so they share the lock's descriptor: they are part of the build,
and a worker still running a step must keep a second build out. They die with the main process
(workers.py: PR_SET_PDEATHSIG on Linux, a watch of the main process elsewhere), so the lock is
free as soon as the build's last process is gone. Programs the build runs (git, tmux, agents)
do not get it: the descriptor is close-on-exec.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from hatchdoit.core.errors import BusyError
from hatchdoit.core.locks import pid_alive

READ_ONLY_COMMANDS = {
    "list",
    "info",
    "help",
    "dumpdb",
    "strace",
    "tabcompletion",
    "forget",
    "ignore",
    "reset-dep",
}
# doit's options that take a value as the next word (`doit -f dodo.py list`): that word is not
# the command. tests/test_runlock.py checks this against doit's own option tables.
VALUE_OPTIONS = {
    "-f", "--file", "-d", "--dir", "--db-file", "--backend", "--check_file_uptodate",
    "--codec-cls", "-n", "--process", "-P", "--parallel-type", "-r", "--reporter", "-o",
    "--output-file", "-v", "--verbosity", "--failure-verbosity", "-s", "--shell", "--sort",
    "--template",
}  # fmt: skip
_held: list[tuple[int, Path]] = []  # the descriptor lives as long as the process


def runs_tasks(argv: list[str]) -> bool:
    """Whether this doit command line executes tasks (run, clean, auto, or a task name)."""
    args = iter(argv[1:])
    for arg in args:
        if arg in VALUE_OPTIONS:
            next(args, None)  # its value
        elif not arg.startswith("-"):
            return arg not in READ_ONLY_COMMANDS
    return True  # bare `doit` runs the default tasks


def hold_build_lock(lock_path: Path, wait: bool) -> None:
    """Take the project's build lock for the rest of this process (doit workers share it)."""
    if _held:
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        fix = "wait for it to finish or stop it; HATCHDOIT_LOCK_WAIT=1 waits for it"
        if holder.isdigit() and not pid_alive(int(holder)):
            fix = (
                f"pid {holder} has exited but a process it started still holds the lock; "
                f"stop it ({holders_command(lock_path)})"
            )
        raise BusyError(
            f"another build is running in this project (pid {holder})", path=lock_path, fix=fix
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held.append((fd, lock_path))


def holders_command(lock_path: Path) -> str:
    """The command that lists the processes holding the lock file open on this platform."""
    return f"fuser -v {lock_path}" if sys.platform.startswith("linux") else f"lsof {lock_path}"


def held_lock_path() -> Path | None:
    """The build lock this process holds, if any."""
    return _held[0][1] if _held else None


def lock_if_building(lock_path: Path) -> bool:
    """Take the build lock when this doit command runs tasks; True if it does."""
    if not runs_tasks(sys.argv):
        return False
    hold_build_lock(lock_path, wait=os.environ.get("HATCHDOIT_LOCK_WAIT") == "1")
    return True


def build_running(lock_path: Path) -> bool:
    """Whether a build holds the lock now (probed without keeping it)."""
    if _held and _held[0][1] == lock_path:
        return True
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own lock
    return False
