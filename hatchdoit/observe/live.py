"""What is running right now: the build holding the project's build lock, and the agent sessions
alive on the project's tmux socket. Read-only: nothing here takes a lock or touches a session."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hatchdoit.agents.tmux_socket import socket_may_exist
from hatchdoit.core import platform
from hatchdoit.core.locks import pid_alive
from hatchdoit.layout import Layout
from hatchdoit.observe.timeline import parse_ts
from hatchdoit.records.models import LaunchRecord
from hatchdoit.records.schemas import try_load


def build_lock(layout: Layout) -> Path:
    return layout.locks / "build.lock"


def _flock_held(path: Path) -> bool | None:
    """Whether some process holds a flock on `path`, from /proc/locks (None: cannot tell, as
    where there is no /proc: macOS)."""
    if not platform.has_proc():
        return None
    try:
        inode = os.stat(path).st_ino
        text = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split()
        if "->" in fields:  # a process waiting for the lock, not holding it
            continue
        if "FLOCK" in fields and len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


def running_build(layout: Layout) -> int | None:
    """The pid of the build holding the build lock, or None when no build runs. Probing the flock
    itself would race a starting build (it takes the lock without waiting), so this reads
    /proc/locks, falling back to the recorded pid's liveness where there is no /proc (macOS).

    Not when the pid the last build recorded is gone: its workers died with it (PDEATHSIG, or
    their watch of the main process where there is none: build/workers.py),
    so nothing holds the lock but a build starting this very instant, before it writes its
    pid. Reading /proc/locks costs an RCU grace period in the kernel (it write-locks every
    file lock in the system), 10-20 ms of wall time in each `hatchdoit status`."""
    path = build_lock(layout)
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    pid = int(text) if text.isdigit() else None
    if pid is not None and not pid_alive(pid):
        return None
    held = _flock_held(path)
    if held is False:
        return None
    if held is None and (pid is None or not pid_alive(pid)):
        return None
    return pid if pid is not None else -1


def live_sessions(socket: str) -> dict[str, bool]:
    """Session name -> pane alive, for every session on `tmux -L socket` ({} without a server)."""
    tmux = shutil.which("tmux")
    if tmux is None or not socket_may_exist(socket):
        return {}
    try:
        done = subprocess.run(
            [tmux, "-L", socket, "list-panes", "-a", "-F", "#{session_name}\t#{pane_dead}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if done.returncode != 0:
        return {}
    sessions: dict[str, bool] = {}
    for line in done.stdout.splitlines():
        name, _, dead = line.partition("\t")
        sessions[name] = sessions.get(name, False) or dead.strip() != "1"
    return sessions


@dataclass(frozen=True)
class SessionView:
    """An agent run whose tmux session is alive, with the command that attaches to it."""

    taskspec_id: str
    role: str
    attempt: int
    session: str
    socket: str
    profile: str
    started_at: str
    elapsed_s: float | None
    idle_s: float | None
    pane_log: str

    @property
    def attach(self) -> str:
        return f"tmux -L {self.socket} attach -t {self.session}"


def running_sessions(layout: Layout, socket: str, now: datetime | None = None) -> list[SessionView]:
    """Launch records whose session is alive on the socket, oldest first."""
    alive = {name for name, up in live_sessions(socket).items() if up}
    if not alive:
        return []
    now = now or datetime.now(UTC)
    found: list[SessionView] = []
    for path in sorted((layout.logs / "state").glob("*/*.launch.json")):
        launch = try_load(path, LaunchRecord)
        if launch is None or launch.session not in alive:
            continue
        pane = layout.pane_log(launch.taskspec_id, launch.role, launch.attempt)
        started = parse_ts(launch.started_at)
        try:
            idle: float | None = max(0.0, now.timestamp() - pane.stat().st_mtime)
        except OSError:
            idle = None
        found.append(
            SessionView(
                taskspec_id=launch.taskspec_id,
                role=launch.role,
                attempt=launch.attempt,
                session=launch.session,
                socket=launch.socket,
                profile=launch.profile,
                started_at=launch.started_at,
                elapsed_s=None if started is None else (now - started).total_seconds(),
                idle_s=idle,
                pane_log=layout.rel(pane),
            )
        )
    return sorted(found, key=lambda s: s.started_at)
