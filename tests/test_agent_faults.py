"""Agent faults with small limits: each is detected, logged with context, retried after a backoff
with jitter, and escalated after the configured attempts, with the agent's screen kept.

Faults: a hung agent (idle limit), a crashed agent (exit marker, and a pane killed without one),
the tmux server killed mid-run, the worktree deleted mid-run, a stop hook that never fires (wall
limit), a stop hook that fires twice, and stale or wrong-token `.stop` files. Detection latencies
are printed (docs/reliability.md quotes them); only a generous bound is asserted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CHECKOUT,
    HatchProject,
    assert_logs_parse,
    background_doit,
    events,
    read_log,
    retry_until,
    run_doit,
)

from hatchdoit.records import (
    DoneRecord,
    EscalatedRecord,
    LaunchRecord,
    Receipt,
    StopRecord,
)
from hatchdoit.schemas import load_valid, try_load

pytestmark = pytest.mark.integration

TID = "AF001-FAULT"
BACKOFF = {"base": 0.4, "factor": 2.0, "max": 5.0, "jitter": 0.5}
GENEROUS = 5.0  # seconds: the only wall-time bound asserted on a detection
# With limits.poll_interval 30 only inotify can wake a wait this soon; the margin is for a loaded
# 2-core CI box (typical figures are tens of milliseconds).
EVENT_BOUND = 1.5
SLOW_POLL = 30.0
BACKING_OFF = re.compile(r"backing off (\d+(?:\.\d+)?)s before retrying")


def limits(project: HatchProject, **role: Any) -> None:
    project.configure(
        limits={
            "factory": {"idle_timeout": 30, "wall_timeout": 60, **role},
            "qa": {"idle_timeout": 30, "wall_timeout": 60},
            "backoff": BACKOFF,
        }
    )




def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def stop_of(project: HatchProject, role: str, attempt: int) -> StopRecord:
    return load_valid(project.layout.stop_file(TID, role, attempt), StopRecord)  # type: ignore[arg-type]


def launch_of(project: HatchProject, attempt: int, role: str = "factory") -> LaunchRecord:
    return load_valid(project.layout.launch_record(TID, role, attempt), LaunchRecord)  # type: ignore[arg-type]


def agent_working(project: HatchProject, proc: subprocess.Popen[str], attempt: int) -> LaunchRecord:
    """Wait until the factory agent of `attempt` has its prompt; return its launch record."""
    layout = project.layout

    def probe() -> LaunchRecord | None:
        assert proc.poll() is None, "doit ended before the agent was working"
        if not layout.marker(TID, "factory", attempt, "submitted").exists():
            return None
        return try_load(layout.launch_record(TID, "factory", attempt), LaunchRecord)

    return retry_until(probe, timeout=60, interval=0.02, what=f"factory attempt {attempt} working")


def assert_fault_handled(
    project: HatchProject,
    *,
    attempts: int,
    stop_events: tuple[str, ...],
    reason: str | tuple[str, ...],
    screen_text: str | None,
) -> list[float]:
    """Every attempt ended in an orchestrator stop of `stop_events`, logged with context, backed
    off before the next attempt, and the TaskSpec escalated; return the backoff delays."""
    layout = project.layout
    errors = [
        line
        for line in read_log(project, "factory")
        if line["level"] == "ERROR" and line.get("operation") == "wait_for_stop"
    ]
    delays = []
    for k in range(1, attempts + 1):
        stop = stop_of(project, "factory", k)
        assert stop.source == "orchestrator" and stop.event in stop_events, stop
        reasons = (reason,) if isinstance(reason, str) else reason
        assert any(r in stop.reason for r in reasons), stop.reason
        assert stop.run_token == launch_of(project, k).run_token
        receipt = load_valid(layout.receipt(TID, "factory", k), Receipt)
        assert receipt.outcome == "failed" and receipt.reasons
        logged = [e for e in errors if e.get("attempt") == k]
        assert len(logged) == 1, errors
        context = logged[0]
        assert context["taskspec_id"] == TID and context["agent_type"] == "factory"
        assert context["session"] == launch_of(project, k).session
        assert stop.event in context["msg"]
        assert not project.session_alive(launch_of(project, k).session)
        if screen_text is not None:
            screen = layout.screen_capture(TID, "factory", k)
            assert screen.is_file(), f"no screen kept for attempt {k}"
            assert screen_text in screen.read_text(encoding="utf-8", errors="replace")
            assert stop.payload.get("screen") == layout.rel(screen)
        if k > 1:
            delays.append(backoff_before(project, k))
    assert len(events(project, "launch", role="factory")) == attempts
    assert events(project, "launch", role="qa") == [], "QA ran on a faulted attempt"
    escalated = load_valid(layout.escalated(TID), EscalatedRecord)
    assert escalated.attempts == attempts
    assert not layout.done(TID).exists()
    critical = [
        line
        for line in read_log(project, "orchestrator")
        if line["level"] == "CRITICAL" and line.get("taskspec_id") == TID
    ]
    assert critical and "escalated" in critical[0]["msg"]
    assert_logs_parse(project)
    return delays


def backoff_before(project: HatchProject, attempt: int) -> float:
    """The WARN 'backing off' delay logged before `attempt`, checked against the policy, and the
    pause actually taken between the previous stop and this launch."""
    lines = [
        line
        for line in read_log(project, "orchestrator")
        if line.get("operation") == "backoff" and line.get("attempt") == attempt
    ]
    assert len(lines) == 1, lines
    assert lines[0]["level"] == "WARN" and lines[0]["taskspec_id"] == TID
    match = BACKING_OFF.search(lines[0]["msg"])
    assert match, lines[0]
    delay = float(match.group(1))
    base = min(BACKOFF["max"], BACKOFF["base"] * BACKOFF["factor"] ** (attempt - 2))
    spread = base * BACKOFF["jitter"]
    assert base - spread - 0.05 <= delay <= base + spread + 0.05, (attempt, delay)
    stop = events(project, "stop", role="factory", attempt=attempt - 1)[-1]
    launch = events(project, "launch", role="factory", attempt=attempt)[0]
    assert ts(launch["ts"]) - ts(stop["ts"]) >= delay - 0.05
    return delay


def report(label: str, **numbers: Any) -> None:
    print(f"\n[agent-faults] {label}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))


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


def test_stop_wakes_the_waiting_step_at_once_not_by_the_poll(project: HatchProject) -> None:
    """The hook's `.stop` lands; the watchdog (inotify) observer on _logs/hooks/<ID>/ wakes the
    waiting step, so the next step starts at once. The backup poll is 30 s: a wait woken only by
    it would start the next step tens of seconds late."""
    limits(project)
    project.configure(limits={"poll_interval": SLOW_POLL})
    project.add_taskspec(TID)
    done = run_doit(project, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    starts = {(e["step"], e["attempt"]): ts(e["ts"]) for e in events(project, "step_start")}
    latency = {}
    for role, next_step in (("factory", ("summary", 1)), ("qa", ("taskspec", 0))):
        stop = stop_of(project, role, 1)
        assert stop.source == "hook" and stop.event == "stop", stop
        landed = project.layout.stop_file(TID, role, 1).stat().st_mtime
        latency[role] = round(starts[next_step] - landed, 3)
    # `ts` has millisecond resolution and the file system's clock may be coarser.
    assert all(-0.02 <= s < EVENT_BOUND for s in latency.values()), latency
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    report(f"stop to next step (poll {SLOW_POLL:g}s)", seconds_from_stop_file_to_step_start=latency)


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


# --------------------------------------------------------------------------------------------
# The stop hook misbehaves


def own_agents(project: HatchProject, name: str, stop_hook: Path) -> None:
    """Give the project its own agents/ with a scripted profile whose stop hook is `stop_hook`."""
    agents = project.root / "agents"
    if not agents.exists():
        shutil.copytree(CHECKOUT / "agents", agents)
    profile = (agents / "scripted.yaml").read_text(encoding="utf-8")
    profile = profile.replace("name: scripted", f"name: {name}")
    profile += f'env:\n  HATCHDOIT_STOP_HOOK: "{stop_hook}"\n'
    (agents / f"{name}.yaml").write_text(profile, encoding="utf-8")


def test_stop_hook_that_never_fires_ends_at_the_wall_limit(project: HatchProject) -> None:
    """The agent works and writes its summary, but its hook is a no-op: the wall limit ends it
    (the idle limit is longer, so it is the missing stop that is detected)."""
    limits(project, wall_timeout=2, idle_timeout=30)
    own_agents(project, "scripted-nohook", Path(shutil.which("true") or "/bin/true"))
    project.configure(agents={"factory": "scripted-nohook"})
    project.add_taskspec(TID, max_attempts=2)
    run_doit(project, timeout=120)

    assert_fault_handled(
        project,
        attempts=2,
        stop_events=("timeout",),
        reason="no stop within the wall limit of 2s",
        screen_text="stop hook exited 0",
    )
    wall = []
    for k in (1, 2):
        launched = ts(launch_of(project, k).started_at)
        wall.append(round(ts(stop_of(project, "factory", k).at) - launched, 2))
        assert 2 <= wall[-1] < 2 + GENEROUS
    report("stop hook never fires (wall 2s)", seconds_from_launch_to_stop=wall)


def test_stop_hook_firing_twice_is_one_stop(project: HatchProject, tmp_path: Path) -> None:
    """Every stop is reported twice: at once (seq 1), and again 0.5 s later from a process that
    outlives the session (seq 2, like a late SessionEnd). The attempt is neither faulted nor
    repeated, and the late rewrite does not make the finished step's receipt stale."""
    limits(project)
    real = CHECKOUT / "scripts" / "agent" / "stop_hook.sh"
    twice = tmp_path / "stop_hook_twice.sh"
    twice.write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\npayload=$(cat)\n"
        # the late duplicate is started first: the session may be closed right after the stop
        f'setsid bash -c \'sleep 0.5; printf "%s" "$1" | "{real}" stop\' _ "$payload" '
        "</dev/null >/dev/null 2>&1 &\n"
        f'printf "%s" "$payload" | "{real}" "$@"\n',
        encoding="utf-8",
    )
    twice.chmod(0o755)
    own_agents(project, "scripted-twice", twice)
    project.configure(agents={"factory": "scripted-twice", "qa": "scripted-twice"})
    project.add_taskspec(TID)
    done = run_doit(project, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    for role in ("factory", "qa"):
        retry_until(lambda role=role: stop_of(project, role, 1).seq == 2, timeout=10)
        stop = stop_of(project, role, 1)
        assert stop.source == "hook" and stop.run_token == launch_of(project, 1, role).run_token
        assert len(events(project, "launch", role=role)) == 1
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    assert events(project, "step_error") == []
    assert [s["source"] for s in events(project, "stop")] == ["hook", "hook"]
    hooks = [line for line in read_log(project, "hooks") if line["msg"] == "stop hook: stop"]
    assert sorted(line["seq"] for line in hooks) == [1, 1, 2, 2]
    before = len(events(project, "step_start"))
    again = run_doit(project, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(events(project, "step_start")) == before, "a late duplicate stop reran a step"


def write_stop(project: HatchProject, launch: LaunchRecord, token: str) -> None:
    """What scripts/agent/stop_hook.sh writes, for a session holding `token`."""
    layout = project.layout
    env = {
        **project.env,
        "HATCHDOIT_STOP_FILE": str(layout.stop_file(TID, launch.role, launch.attempt)),
        "HATCHDOIT_RUN_TOKEN": token,
        "HATCHDOIT_TASKSPEC_ID": TID,
        "HATCHDOIT_ROLE": launch.role,
        "HATCHDOIT_ATTEMPT": str(launch.attempt),
        "HATCHDOIT_PYTHON": sys.executable,
        "HATCHDOIT_LOGS_DIR": str(layout.logs),
    }
    subprocess.run(
        [str(CHECKOUT / "scripts" / "agent" / "stop_hook.sh"), "stop"],
        input=json.dumps({"hook_event_name": "Stop", "session_id": "test"}),
        env=env,
        text=True,
        check=True,
        timeout=30,
    )


def test_wrong_token_stop_mid_run_is_ignored_and_logged(project: HatchProject) -> None:
    """A `.stop` written with another run's token while the agent works is ignored (WARN with
    context); the agent's own stop, written later, ends the run normally."""
    limits(project)
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=2)
    with background_doit(project) as proc:
        launch = agent_working(project, proc, 1)
        write_stop(project, launch, "earlier-attempt-token-0000")
        warned = retry_until(
            lambda: [
                line
                for line in read_log(project, "hooks")
                if line["level"] == "WARN" and "run token" in line["msg"]
            ],
            timeout=10,
            what="WARN about the wrong token",
        )
        assert proc.poll() is None, "the wrong-token stop ended the wait"
        assert not project.layout.receipt(TID, "factory", 1).exists()
        summary = project.layout.summary(TID, 1)
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(
            json.dumps(
                {
                    "taskspec_id": TID,
                    "agent_type": "factory",
                    "iteration": 1,
                    "status": "completed",
                    "implementation_files": [],
                    "test_results": {"passed": 1, "failed": 0},
                    "loc_analysis": {"actual": 0, "cap": 200},
                    "next_steps": [],
                    "handover_notes": "written by the test for the hung agent",
                }
            ),
            encoding="utf-8",
        )
        write_stop(project, launch, launch.run_token)
        assert proc.wait(timeout=60) == 0

    context = warned[0]
    assert context["taskspec_id"] == TID and context["attempt"] == 1
    assert context["agent_type"] == "factory" and context["path"].endswith("factory-1.stop")
    stop = stop_of(project, "factory", 1)
    assert stop.source == "hook" and stop.run_token == launch.run_token
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    assert len(events(project, "launch", role="factory")) == 1


def test_stale_stop_from_an_earlier_build_is_ignored(project: HatchProject) -> None:
    """After an edit, attempt 1's `.stop` from the previous build (old token) is still on disk
    when the new attempt 1 starts: it must not end the new run."""
    limits(project)
    path = project.add_taskspec(TID)
    assert run_doit(project, timeout=120).returncode == 0
    old = stop_of(project, "factory", 1)
    path.write_text(path.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    assert run_doit(project, timeout=120).returncode == 0

    new = stop_of(project, "factory", 1)
    assert new.run_token != old.run_token and new.source == "hook"
    assert new.run_token == launch_of(project, 1).run_token
    stops = events(project, "stop", role="factory", attempt=1)
    assert [s["source"] for s in stops] == ["hook", "hook"]
    assert len(events(project, "launch", role="factory", attempt=1)) == 2
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    warned = [
        line
        for line in read_log(project, "hooks")
        if line["level"] == "WARN" and "run token" in line["msg"]
    ]
    assert warned and warned[0]["attempt"] == 1 and warned[0]["taskspec_id"] == TID
    seen = []  # a normal stop: from the hook writing the .stop to the orchestrator acting on it
    for role in ("factory", "qa"):
        stop = stop_of(project, role, 1)
        acted = events(project, "stop", role=role, attempt=1)[-1]
        seen.append(round(ts(acted["ts"]) - ts(stop.at), 3))
    assert all(-0.002 <= s < GENEROUS for s in seen), seen
    report("hook stop (inotify)", seconds_from_stop_file_to_orchestrator=seen)
