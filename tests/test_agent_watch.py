"""The inotify watch of an agent run (AgentRun.watching): the waits inside run_until_stop share
one observer, and a wait used on its own (as the benchmark's stop-latency measure does) stops
the observer it started."""

from __future__ import annotations

import threading

from projects import HatchProject

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.project import load_project
from hatchdoit.records.models import LaunchRecord, StopRecord
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.run.context import StepContext
from hatchdoit.steps.stop_wait import wait_for_stop

TID = "T001-WATCH"


def agent_run(project: HatchProject) -> AgentRun:
    project.add_taskspec(TID, test_command="true")
    ctx = StepContext(load_project(project.root), TID)
    ctx.worktree.mkdir(parents=True)
    launch = LaunchRecord(
        taskspec_id=TID,
        role="factory",
        attempt=1,
        run_token="tok-watch",
        digest=ctx.digest,
        session="no-such-session",
        profile="scripted",
        socket=project.socket,
        prompt_file="_logs/factory/prompt.md",
    )
    return AgentRun(ctx, "factory", 1, launch, ctx.tmux())


def write_stop(run: AgentRun, seq: int) -> None:
    """The stop a hook writes; it is there before the wait starts, so no tmux is asked."""
    record = StopRecord(
        run_token=run.launch.run_token,
        taskspec_id=TID,
        role="factory",
        attempt=1,
        event="stop",
        source="hook",
        seq=seq,
        reason="test",
    )
    write_json_atomic(run.stop_file, record.model_dump(mode="json"))


def test_waits_share_the_outer_watch_and_stop_their_own(project: HatchProject) -> None:
    run = agent_run(project)
    write_stop(run, seq=1)
    threads = threading.active_count()

    assert wait_for_stop(run).seq == 1
    assert threading.active_count() == threads, "a wait on its own leaves its observer running"

    with run.watching() as outer:
        running = threading.active_count()
        assert running > threads, "the outer scope starts an observer"
        with run.watching() as inner:
            assert inner is outer
        assert wait_for_stop(run).seq == 1
        write_stop(run, seq=2)
        assert wait_for_stop(run, after_seq=1).seq == 2
        assert threading.active_count() == running, "nested waits start no observer of their own"
    assert threading.active_count() == threads
