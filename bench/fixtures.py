"""Temp projects, private tmux servers and timed child processes for the benchmarks.

Projects are made by the integration tests' own helpers (tests/projects.py: a project dir with
dodo.py and hatchdoit.yaml, a planning repo, a seed, a clean git environment). One Sandbox holds
every project of a bench run under one temp dir and one private TMUX_TMPDIR; closing it kills
every tmux server whose socket lives there, so no session outlives the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench.memory import HighWater
from tests.projects import CHECKOUT, HatchProject, doit_executable, make_project

__all__ = ["CHECKOUT", "HatchProject", "Sandbox", "Timed", "doit_argv", "hatchdoit_argv"]


@dataclass(frozen=True)
class Timed:
    """A finished child process: wall time, CPU time (user + system, its waited-for children
    included), exit code, output, and the peak RSS of the process itself (KiB, VmHWM sampled
    from /proc while it ran: wait4's ru_maxrss would include the benchmark's own size, which
    the child inherits at fork)."""

    wall: float
    cpu: float
    returncode: int
    stdout: str
    stderr: str
    max_rss_kib: int

    def check(self, what: str) -> Timed:
        if self.returncode != 0:
            tail = (self.stderr or self.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{what} exited {self.returncode}: " + " | ".join(tail))
        return self


def doit_argv(*args: str) -> list[str]:
    return [doit_executable(), *args]


def hatchdoit_argv(*args: str) -> list[str]:
    """The `hatchdoit` console script of this interpreter, else `python -m hatchdoit.cli`."""
    beside = Path(sys.executable).parent / "hatchdoit"
    if beside.is_file():
        return [str(beside), *args]
    return [sys.executable, "-m", "hatchdoit", *args]


def run_timed(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300.0) -> Timed:
    """Run argv in its own process group; on timeout the whole group is killed (SIGKILL)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True
        )
        timer = threading.Timer(timeout, _kill_group, [proc.pid])
        timer.start()
        peak = HighWater(proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            peak.stop()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Timed(
            wall=wall,
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            cpu=usage.ru_utime + usage.ru_stime,
            max_rss_kib=peak.kib,
        )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


class Sandbox:
    """Every temp project and tmux server of one bench run; a context manager that cleans up."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.root = Path(tempfile.mkdtemp(prefix="hdbench-"))
        # Socket paths are limited to ~100 bytes: a short directory of its own.
        self.tmux_tmpdir = Path(tempfile.mkdtemp(prefix="hdb-"))
        self._saved_env: dict[str, str | None] = {}

    def __enter__(self) -> Sandbox:
        # In-process waits (libtmux) must find the same servers as the doit children.
        overrides = {"TMUX_TMPDIR": str(self.tmux_tmpdir), "TMUX": None, "TMUX_PANE": None}
        for key in os.environ:
            if key.startswith("HATCHDOIT_"):
                overrides[key] = None
        for key, value in overrides.items():
            self._saved_env[key] = os.environ.get(key)
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill_all_servers()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(self.tmux_tmpdir, ignore_errors=True)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def project(self, name: str) -> HatchProject:
        """A fresh test project (tests/projects.py) whose tmux socket lives in this sandbox."""
        where = self.root / name
        where.mkdir()
        project = make_project(where)
        shutil.rmtree(project.env["TMUX_TMPDIR"], ignore_errors=True)
        project.env["TMUX_TMPDIR"] = str(self.tmux_tmpdir)
        project.env["HATCHDOIT__TMUX_SOCKET"] = project.socket
        return project

    def new_socket(self) -> str:
        return f"hdb-{uuid.uuid4().hex[:12]}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "TMUX_TMPDIR": str(self.tmux_tmpdir)}

    def tmux(self, socket: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", socket, "-f", "/dev/null", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )

    def kill_server(self, socket: str) -> None:
        self.tmux(socket, "kill-server")

    def kill_all_servers(self) -> None:
        """kill-server on every socket in this sandbox's TMUX_TMPDIR (tmux-<uid>/<socket>)."""
        for socket_dir in self.tmux_tmpdir.glob("tmux-*"):
            for sock in socket_dir.iterdir():
                if sock.is_socket():
                    self.kill_server(sock.name)
