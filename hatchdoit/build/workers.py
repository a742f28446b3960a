"""`doit -n N` workers: a dead worker no longer hangs the build, a dead build takes its workers.

doit's MRunner waits on its result queue for every task it handed to a worker process; when a
worker dies (SIGKILL, the OOM killer) that result never comes and doit waits forever, holding the
build lock. And when the main doit dies, its workers block forever on a queue nobody feeds, still
holding build.lock (they share its descriptor: they are part of the build). So:

- Every worker is forked with PR_SET_PDEATHSIG=SIGKILL (else it watches the main process itself:
  worker_procs.py) and exits at once if the main process died before that was set: SIGKILL of
  the main process takes the workers along, and the lock is free once the last one is gone.
- A thread of the main process watches each worker through a pidfd (an event; without pidfd, by
  polling its pid). When one dies abnormally it says so in one line, naming the step it ran. The
  other workers go on with whatever does not need that step; once nothing runs any more (no step
  open in the audit trail, no CPU used by doit, for QUIET_SECONDS) doit can only be waiting for
  the dead worker, and the build stops from doit's main thread with exit 1 and one line.
  Artifacts are written atomically and a still-running agent session is re-attached by the next
  `doit`, so rerunning resumes.

Every direct fork of the building process is taken for a doit worker: hatchdoit starts its
helpers with subprocess, which runs no fork hooks. core/platform.py: which means a platform has.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import multiprocessing
import os
import selectors
import signal
import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from hatchdoit.build.worker_procs import GONE, RUNNING, cpu_of_build, fork_workers, peek_child
from hatchdoit.build.worker_procs import die_with_parent as die_with_parent_setup
from hatchdoit.core import platform
from hatchdoit.core.errors import EXIT_FAILED
from hatchdoit.layout import Layout
from hatchdoit.project import load_project

QUIET_SECONDS = 2.0  # nothing running that long after a worker died: doit waits for its result
CHECK_EVERY = 0.5  # only after a worker died: doit offers no event for "waiting in vain"
EXIT_GRACE = 10.0  # for the main thread to unwind doit once told to stop
ASKED_TO_STOP = {signal.SIGINT, signal.SIGTERM}  # doit's terminate(), Ctrl-C, a service manager
_PID = struct.Struct("=i")


@dataclass
class LostWorker:
    """A worker that ended other than by finishing: its pid, how it ended, what it was running."""

    pid: int
    how: str
    step: str | None
    taskspec_id: str | None
    asked_to_stop: bool

    def describe(self) -> str:
        running = f" while running {self.step}" if self.step else ""
        return f"doit worker {self.pid} {self.how}{running}"


def exit_description(code: int, status: int) -> tuple[str, bool]:
    """How a child ended (from waitid's si_code/si_status) and whether it was asked to stop."""
    if code == os.CLD_EXITED:
        stop = status in {128 + s for s in ASKED_TO_STOP}  # interrupts.py exits 128 + signal
        return f"exited with status {status}", stop
    name = signal.Signals(status).name if status in signal.valid_signals() else str(status)
    return f"was killed by {name}", status in ASKED_TO_STOP


def step_name(step: str, tid: str, attempt: int) -> str:
    """The doit task name of a step: `factory:ID.2`, `worktree:ID`."""
    return f"{step}:{tid}" + (f".{attempt}" if attempt else "")


class _AuditReader:
    """The steps started and not ended since the build began (read from audit.jsonl as it grows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.offset = path.stat().st_size
        except OSError:
            self.offset = 0
        self.open: dict[tuple[str, str, int], None] = {}  # in start order
        self._tail = b""

    def read(self) -> bool:
        """Take in new events; True if there were any."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return False
        self.offset += len(data)
        lines = (self._tail + data).split(b"\n")
        self._tail = lines.pop()
        for line in lines:
            try:
                event = json.loads(line)
                key = (str(event["taskspec_id"]), str(event["step"]), int(event["attempt"]))
            except (ValueError, KeyError, TypeError):
                continue  # not a step event
            if event.get("event") == "step_start":
                self.open[key] = None
            elif event.get("event") in ("step_end", "step_error"):
                self.open.pop(key, None)
        return bool(data)

    def open_step(self, tid: str) -> str | None:
        keys = [k for k in self.open if k[0] == tid]
        return step_name(keys[-1][1], tid, keys[-1][2]) if keys else None


class Supervisor:
    """The main process's side: which workers exist, which were lost, when the build must end."""

    def __init__(self, socket: str, layout: Layout | None) -> None:
        self.main_pid = os.getpid()
        self.socket = socket
        self.layout = layout
        self.report_r, self.report_w = os.pipe()  # each new worker writes its pid here
        self.lost: list[LostWorker] = []
        self.stopping = False  # the build is ending anyway (a stop signal, doit's own exit)
        self.ending = False  # this thread asked the main thread to end the build
        self.told = False
        self.thread: threading.Thread | None = None
        self.audit: _AuditReader | None = None
        self.live: dict[int, int] = {}  # pidfd -> pid
        self.polled: set[int] = set()  # workers watched by polling (no pidfd here)
        self.unreaped: dict[int, float] = {}  # ended, how unknown (no waitid): pid -> seen at
        self._fingerprint: tuple[int, int] = (-1, -1)
        self._quiet_since = 0.0

    # -- the watching thread ------------------------------------------------------------------

    def start(self) -> None:
        if self.layout is not None:
            self.audit = _AuditReader(self.layout.audit)  # steps of earlier builds do not count
        self.thread = threading.Thread(target=self._watch, name="hatchdoit-workers", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.report_r, selectors.EVENT_READ)
        pending = b""
        while True:
            polling = self.lost or self.polled or self.unreaped
            for key, _ in selector.select(CHECK_EVERY if polling else None):
                if key.fd == self.report_r:
                    pending += os.read(self.report_r, 4096)
                    while len(pending) >= _PID.size:
                        (pid,) = _PID.unpack(pending[: _PID.size])
                        pending = pending[_PID.size :]
                        self._follow(selector, pid)
                else:
                    selector.unregister(key.fd)
                    pid = self.live.pop(key.fd)
                    os.close(key.fd)
                    self._ended(pid)
            self._poll()
            if self.lost and not self.stopping and self._nothing_runs():
                self._end_build()
                return

    def _follow(self, selector: selectors.BaseSelector, pid: int) -> None:
        if not platform.has_pidfd():
            self.polled.add(pid)
            return
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return  # already gone and reaped by doit: it knows
        self.live[pidfd] = pid
        selector.register(pidfd, selectors.EVENT_READ)

    def _poll(self) -> None:
        """Without pidfd: the polled workers that ended. Without waitid: the ended workers doit
        has not reaped for QUIET_SECONDS (it would have, had it known), taken as lost."""
        for pid in list(self.polled):
            if peek_child(pid) != RUNNING:
                self.polled.discard(pid)
                self._ended(pid)
        for pid, seen in list(self.unreaped.items()):
            if peek_child(pid) == GONE:
                del self.unreaped[pid]  # doit joined it: it knew
            elif time.monotonic() - seen >= QUIET_SECONDS:
                del self.unreaped[pid]
                self._lose(pid, "ended (how is unknown: no waitid on this platform)", False)

    def _ended(self, pid: int) -> None:
        state = peek_child(pid)  # WNOWAIT: look without reaping, doit's Process.join() reaps it
        if state is None:
            self.unreaped.setdefault(pid, time.monotonic())
            return
        if not isinstance(state, tuple):
            return  # doit already reaped it: it joined or terminated it itself
        code, status = state
        if code == os.CLD_EXITED and status == 0:
            return
        how, asked = exit_description(code, status)
        self._lose(pid, how, asked)

    def _lose(self, pid: int, how: str, asked: bool) -> None:
        tid, step = self._step_of(pid)
        lost = LostWorker(pid, how, step, tid, asked)
        self.lost.append(lost)
        self._quiet_since = time.monotonic()
        if not asked and not self.stopping:
            tell(
                f"hatchdoit: {lost.describe()}; the build goes on with the other workers as far "
                "as it can without it (rerun doit to resume)"
            )

    def _step_of(self, pid: int) -> tuple[str | None, str | None]:
        """The TaskSpec and open step of a worker: run_step holds `<ID>.lock` through a step and
        writes the holder's pid in it. (None, None) if it ran no step."""
        if self.layout is None or self.audit is None:
            return None, None
        self.audit.read()
        found: list[tuple[float, str]] = []
        for tid in {key[0] for key in self.audit.open}:
            path = self.layout.locks / f"{tid}.lock"
            try:
                if path.read_text(encoding="utf-8").strip() == str(pid):
                    found.append((path.stat().st_mtime, tid))
            except OSError:
                continue
        if not found:
            return None, None
        tid = max(found)[1]
        return tid, self.audit.open_step(tid)

    def _nothing_runs(self) -> bool:
        """True once, for QUIET_SECONDS, no step of a live worker was open, no audit event was
        written and neither the main thread nor a live worker used CPU: doit then waits for a
        result only a dead worker could send."""
        if self.audit is None:
            return False  # no audit trail to tell a waiting step from an idle worker: keep waiting
        now = time.monotonic()
        moved = self.audit.read()
        lost_tids = {w.taskspec_id for w in self.lost}
        busy = any(k[0] not in lost_tids for k in self.audit.open)
        fingerprint = (
            self.audit.offset,
            cpu_of_build({*self.live.values(), *self.polled}),
        )
        if moved or busy or fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self._quiet_since = now
            return False
        return now - self._quiet_since >= QUIET_SECONDS

    def _end_build(self) -> None:
        self.ending = True
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)
        threading.Event().wait(EXIT_GRACE)  # the process normally exits well before this
        if not self.told:
            tell(self.final_line() + " (forced: doit did not stop in time)")
        stop_workers()
        os._exit(EXIT_FAILED)

    def final_line(self) -> str:
        lost = "; ".join(w.describe() for w in self.lost)
        return (
            f"hatchdoit: build stopped: {lost}, and nothing else could run without it; finished "
            f"steps are kept, agent sessions keep running (tmux -L {self.socket} ls); rerun doit "
            "to resume"
        )

    # -- the main thread ----------------------------------------------------------------------

    def on_end_request(self, _signum: int, _frame: FrameType | None) -> None:
        """SIGUSR1 from the watching thread: end the build from doit's main thread, so doit
        terminates its workers and closes its database as on any other stop."""
        if not self.ending or self.stopping:
            return
        if isinstance(sys.exc_info()[1], SystemExit | KeyboardInterrupt):
            return  # already on its way out
        self.stopping = True
        stop_workers()
        self.told = True
        tell(self.final_line())
        raise SystemExit(EXIT_FAILED)


_supervisor: list[Supervisor] = []  # in the building process only; empty in workers


def tell(line: str) -> None:
    """One line to stderr in one write (safe from a signal handler or another thread)."""
    with contextlib.suppress(OSError):
        os.write(2, (line + "\n").encode(errors="replace"))


def _layout_of(lock_path: Path | None) -> Layout | None:
    """The project's layout from its build lock (`<root>/_logs/locks/build.lock`)."""
    if lock_path is None or len(lock_path.parents) < 3:
        return None
    layout = load_project(lock_path.parents[2]).layout  # with hatchdoit.yaml's worktrees:
    return layout if layout.locks == lock_path.parent else None


def supervise(socket: str, lock_path: Path | None) -> None:
    """Watch the doit workers this process will fork (call once, in the building process)."""
    if _supervisor:
        return
    fork_workers()
    supervisor = Supervisor(socket, _layout_of(lock_path))
    _supervisor.append(supervisor)
    die_with_parent = die_with_parent_setup()

    def in_child() -> None:
        if not _supervisor:
            return  # forked by a worker, not by the build's main process
        sup = _supervisor.pop()  # a worker supervises nothing
        die_with_parent()
        if os.getppid() != sup.main_pid:  # the main process died before prctl took effect
            os._exit(EXIT_FAILED)
        os.write(sup.report_w, _PID.pack(os.getpid()))
        os.close(sup.report_r)
        os.close(sup.report_w)

    def in_parent() -> None:
        if supervisor.thread is None and os.getpid() == supervisor.main_pid:
            supervisor.start()  # the first worker: only `doit -n N` gets a watching thread

    os.register_at_fork(after_in_child=in_child, after_in_parent=in_parent)
    signal.signal(signal.SIGUSR1, supervisor.on_end_request)
    atexit.register(stopping)  # exiting: workers ending from now on are doit's own doing


def stopping() -> None:
    """The build is ending by other means: workers that end from now on are not reported."""
    if _supervisor:
        _supervisor[0].stopping = True


def stop_workers() -> None:
    """Terminate doit's worker processes (their SIGTERM handler exits at once)."""
    for child in multiprocessing.active_children():
        child.terminate()
