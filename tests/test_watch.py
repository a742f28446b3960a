"""`hatchdoit watch` driven in a real tmux pane on a private socket, its screen read with
capture-pane while a real build runs: an agent that hangs shows up with its attach command,
the test kills its session, the build escalates it and ends, and the dashboard exits."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
from conftest import popen_doit, retry_until
from daily_use import hatchdoit
from projects import HatchProject

from hatchdoit.agents.tmux import session_name

pytestmark = pytest.mark.integration


def row(*cells: str) -> re.Pattern[str]:
    """A table row holding these cells in order (rich draws │ between columns)."""
    return re.compile(r"[\s│]+".join(re.escape(cell) for cell in cells))


def test_watch_shows_sessions_with_attach_commands_and_exits_when_idle(
    project: HatchProject,
) -> None:
    project.add_taskspec("OK")
    project.add_taskspec("HANG", scripted={"factory": ["hang"]}, max_attempts=1)
    project.configure(limits={"factory": {"idle_timeout": 120, "wall_timeout": 120}})
    watch_socket = f"{project.socket}-w"

    def wtmux(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", watch_socket, *args],
            env=project.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def screen() -> str:
        return wtmux("capture-pane", "-p", "-J", "-t", "watch").stdout

    command = shlex.join(
        [
            *(sys.executable, "-m", "hatchdoit", "--root", str(project.root), "watch"),
            *("--exit-when-idle", "--tick", "0.5"),
        ]
    )
    started = wtmux(
        "new-session", "-d", "-s", "watch", "-x", "200", "-y", "60",
        f"{command}; echo WATCH-EXIT=$?; exec cat",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    build: subprocess.Popen[str] | None = None
    try:
        retry_until(lambda: "no build running" in screen(), timeout=30, what="first frame")
        assert row("HANG", "pending").search(screen()), screen()
        build = popen_doit(project, "--continue", "-n", "2")
        hang_session = session_name(project.layout.tag, "HANG", "factory", 1)
        attach = f"tmux -L {project.socket} attach -t {hang_session}"
        retry_until(lambda: attach in screen(), timeout=60, what="attach command on screen")
        frame = screen()
        assert "build running (pid" in frame
        assert row("HANG", "running", "factory", "1/1").search(frame), frame
        assert row("HANG", "factory", "1", "scripted").search(frame), frame  # sessions table
        assert row("HANG", "factory", "1", "running for").search(frame) is None
        assert "Steps running" in frame
        retry_until(lambda: row("OK", "done").search(screen()), timeout=60, what="OK done")

        status = json.loads(hatchdoit(project, "status", "--json").stdout)
        hang = next(r for r in status["taskspecs"] if r["taskspec_id"] == "HANG")
        assert hang["state"] == "running" and hang["session"]["attach"] == attach
        assert status["build"]["running"] and status["build"]["pid"] == build.pid

        # the user attaches and ends the stuck agent; the build escalates HANG and ends
        assert project.tmux("kill-session", "-t", f"={hang_session}").returncode == 0
        assert build.wait(timeout=60) != 0
        retry_until(lambda: "WATCH-EXIT=0" in screen(), timeout=30, what="watch exits")
        final = screen()
        assert row("HANG", "escalated").search(final), final
        assert "Agent sessions: none alive" in final and "Recent events" in final
        assert "escalated after 1 attempt(s)" in final
    finally:
        if build is not None and build.poll() is None:
            build.kill()
            build.wait(timeout=10)
        wtmux("kill-server")
    out = (project.root.parent).glob("doit-*.out")
    progress = "".join(p.read_text() for p in out)
    assert re.search(r"^F\s+taskspec:HANG\s", progress, re.M), progress
    assert re.search(
        r"^x\s+factory:HANG\.1\s+attempt 1/1\s+\S+s\s+failed: factory crashed", progress, re.M
    ), progress


def test_watch_once_draws_one_frame_without_a_terminal(project: HatchProject) -> None:
    project.add_taskspec("ONE")
    done = hatchdoit(project, "watch", "--once")
    assert done.returncode == 0, done.stderr
    assert "hatchdoit watch" in done.stdout and "no build running" in done.stdout
    assert row("ONE", "pending").search(done.stdout), done.stdout
    assert "Agent sessions: none alive" in done.stdout and "Recent events: none yet" in done.stdout
