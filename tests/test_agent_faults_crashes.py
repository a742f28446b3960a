"""Agents that hang or crash, and an environment that fails under them, with small limits: a
hung agent (idle limit), a crashed agent (exit marker, and a pane killed without one), the tmux
server killed mid-run and the worktree deleted mid-run. Each is detected, logged with context,
retried after a backoff with jitter and escalated after the configured attempts, with the
agent's screen kept. Detection latencies are printed (docs/reliability.md quotes them); only a
generous bound is asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest
from agent_fault_checks import (
    EVENT_BOUND,
    GENEROUS,
    SLOW_POLL,
    TID,
    agent_working,
    assert_fault_handled,
    limits,
    report,
    stop_of,
    ts,
)
from conftest import background_doit, read_log, run_doit
from projects import HatchProject

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# Hung and crashed agents


def test_hung_agent_ended_by_idle_limit_backs_off_and_escalates(project: HatchProject) -> None:
    limits(project, idle_timeout=1.5)
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=3)
    done = run_doit(project, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr

    delays = assert_fault_handled(
        project,
        attempts=3,
        stop_events=("idle",),
        reason="no pane output for 2s",
        screen_text="behaviour hang",
    )
    assert delays[1] > delays[0] * 0.5, delays  # exponential: the second base is twice the first
    idle = []
    for k in (1, 2, 3):
        pane = project.layout.pane_log(TID, "factory", k)
        idle.append(round(ts(stop_of(project, "factory", k).at) - pane.stat().st_mtime, 2))
        assert 1.5 <= idle[-1] < 1.5 + GENEROUS
    report("hang (idle_timeout 1.5s)", seconds_from_last_output_to_stop=idle, backoffs=delays)


@pytest.mark.parametrize("poll", [SLOW_POLL])
def test_crashed_agent_detected_at_once_not_by_the_poll(project: HatchProject, poll: float) -> None:
    """The agent exits 3; launch_agent.sh writes the exit marker; inotify wakes the wait (the
    poll is 30 s, so only the event can meet the bound)."""
    limits(project)
    project.configure(limits={"poll_interval": poll})
    project.add_taskspec(TID, scripted={"factory": "crash"}, max_attempts=2)
    run_doit(project, timeout=120)

    assert_fault_handled(
        project,
        attempts=2,
        stop_events=("crashed",),
        # the exit marker normally wins; the dead pane when both appear between two looks
        reason=("agent exited with code 3", "pane dead"),
        screen_text="crashing",
    )
    latency = []
    for k in (1, 2):
        exit_marker = project.layout.marker(TID, "factory", k, "exit")
        pane = project.layout.pane_log(TID, "factory", k)
        exited = (exit_marker if exit_marker.exists() else pane).stat().st_mtime
        latency.append(ts(stop_of(project, "factory", k).at) - exited)
    assert all(-0.002 <= s < EVENT_BOUND for s in latency), latency  # `at` is in milliseconds
    report(
        f"crash via exit marker (poll {poll}s)",
        seconds_from_exit_to_stop=[round(s, 3) for s in latency],
    )


def test_agent_killed_without_exit_marker_is_a_crash(project: HatchProject) -> None:
    """SIGKILL to the pane's whole process group: no exit marker, only the dead pane tells."""
    limits(project)
    project.configure(limits={"poll_interval": 0.5})
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=2)
    killed_at = []
    with background_doit(project) as proc:
        for k in (1, 2):
            launch = agent_working(project, proc, k)
            pid = int(
                project.tmux(
                    "display", "-p", "-t", f"={launch.session}:", "#{pane_pid}"
                ).stdout.strip()
            )
            killed_at.append(time.time())
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        proc.wait(timeout=60)

    assert_fault_handled(
        project,
        attempts=2,
        stop_events=("crashed",),
        reason="pane dead",
        screen_text="behaviour hang",
    )
    latency = [round(ts(stop_of(project, "factory", k).at) - killed_at[k - 1], 3) for k in (1, 2)]
    assert all(-0.002 <= s < GENEROUS for s in latency), latency
    assert not project.layout.marker(TID, "factory", 1, "exit").exists()
    report("crash without exit marker (poll 0.5s)", seconds_from_kill_to_stop=latency)


# --------------------------------------------------------------------------------------------
# The environment fails under the agent


def test_tmux_server_killed_mid_run(project: HatchProject) -> None:
    limits(project)
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=2)
    killed_at = []
    with background_doit(project) as proc:
        for k in (1, 2):
            agent_working(project, proc, k)
            killed_at.append(time.time())
            assert project.tmux("kill-server").returncode == 0
        proc.wait(timeout=60)

    # The server is gone with the pane: no screen to capture; the pane log is what is kept.
    assert_fault_handled(
        project,
        attempts=2,
        stop_events=("crashed",),
        reason=("server gone", "agent exited with code"),  # the pane's SIGHUP may win
        screen_text=None,
    )
    for k in (1, 2):
        pane = project.layout.pane_log(TID, "factory", k)
        assert "behaviour hang" in pane.read_text(encoding="utf-8", errors="replace")
    latency = [round(ts(stop_of(project, "factory", k).at) - killed_at[k - 1], 3) for k in (1, 2)]
    assert all(-0.002 <= s < GENEROUS for s in latency), latency
    report("tmux server killed", seconds_from_kill_to_stop=latency)


def test_worktree_deleted_mid_run(project: HatchProject) -> None:
    limits(project)
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=2)
    worktree = project.layout.worktree(TID)
    deleted_at = []
    with background_doit(project) as proc:
        for k in (1, 2):
            agent_working(project, proc, k)
            deleted_at.append(time.time())
            shutil.rmtree(worktree)
        proc.wait(timeout=60)

    assert_fault_handled(
        project,
        attempts=2,
        stop_events=("crashed",),
        reason="was deleted while the agent ran",
        screen_text="behaviour hang",
    )
    recreated = [
        line
        for line in read_log(project, "orchestrator")
        if line["level"] == "WARN" and "worktree missing" in line["msg"]
    ]
    assert [line["attempt"] for line in recreated] == [2]
    checks = json.loads(project.layout.checks(TID, 1).read_text(encoding="utf-8"))
    assert checks["passed"] is False
    latency = [round(ts(stop_of(project, "factory", k).at) - deleted_at[k - 1], 3) for k in (1, 2)]
    assert all(-0.002 <= s < GENEROUS for s in latency), latency
    report("worktree deleted", seconds_from_delete_to_stop=latency)
