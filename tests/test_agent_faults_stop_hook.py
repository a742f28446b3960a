"""The stop hook, right and wrong: a `.stop` wakes the waiting step at once (inotify, not the
poll); a hook that never fires ends at the wall limit; one that fires twice is one stop; a
wrong-token `.stop` mid-run and a stale one from an earlier build are ignored and logged.
Detection latencies are printed (docs/reliability.md quotes them); only a generous bound is
asserted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from agent_fault_checks import (
    EVENT_BOUND,
    GENEROUS,
    SLOW_POLL,
    TID,
    agent_working,
    assert_fault_handled,
    launch_of,
    limits,
    report,
    stop_of,
    ts,
)
from conftest import background_doit, events, read_log, retry_until, run_doit
from projects import HatchProject

from hatchdoit.core.bundled import AGENTS as BUNDLED_AGENTS
from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS
from hatchdoit.records.models import DoneRecord, LaunchRecord, StopRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# A stop wakes the waiting step


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


# --------------------------------------------------------------------------------------------
# The stop hook misbehaves


def own_agents(project: HatchProject, name: str, stop_hook: Path) -> None:
    """Give the project its own agents/ with a scripted profile whose stop hook is `stop_hook`."""
    agents = project.root / "agents"
    if not agents.exists():
        shutil.copytree(BUNDLED_AGENTS, agents)
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
    repeated, and the late rewrite (in the run's output directory, after hatchdoit took the
    stop it waited for) does not make the finished step's receipt stale."""
    limits(project)
    real = BUNDLED_SCRIPTS / "agent" / "stop_hook.sh"
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
        late = project.layout.run_stop(TID, role, 1)  # type: ignore[arg-type]
        retry_until(lambda late=late: load_valid(late, StopRecord).seq == 2, timeout=10)
        stop = stop_of(project, role, 1)
        assert stop.seq == 1, "hatchdoit's copy is the stop it waited for"
        assert stop.source == "hook" and stop.run_token == launch_of(project, 1, role).run_token
        assert len(events(project, "launch", role=role)) == 1
        own = project.layout.run_hook_log(TID, role, 1)  # type: ignore[arg-type]
        retry_until(lambda own=own: [json.loads(x)["seq"] for x in own.read_text().splitlines()
                                     if "stop hook: stop" in x] == [1, 2], timeout=10)  # fmt: skip
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    assert events(project, "step_error") == []
    assert [s["source"] for s in events(project, "stop")] == ["hook", "hook"]
    hooks = [line for line in read_log(project, "hooks") if line["msg"] == "stop hook: stop"]
    assert sorted(line["seq"] for line in hooks) == [1, 1], "copied when the stop was taken"
    before = len(events(project, "step_start"))
    again = run_doit(project, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(events(project, "step_start")) == before, "a late duplicate stop reran a step"


def write_stop(project: HatchProject, launch: LaunchRecord, token: str) -> None:
    """What scripts/agent/stop_hook.sh writes, for a session holding `token`."""
    layout = project.layout
    env = {
        **project.env,
        "HATCHDOIT_STOP_FILE": str(layout.run_stop(TID, launch.role, launch.attempt)),
        "HATCHDOIT_RUN_TOKEN": token,
        "HATCHDOIT_TASKSPEC_ID": TID,
        "HATCHDOIT_ROLE": launch.role,
        "HATCHDOIT_ATTEMPT": str(launch.attempt),
        "HATCHDOIT_PYTHON": sys.executable,
        "HATCHDOIT_LOGS_DIR": str(layout.logs),
    }
    subprocess.run(
        [str(BUNDLED_SCRIPTS / "agent" / "stop_hook.sh"), "stop"],
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
        summary = project.layout.run_handover(TID, "factory", 1)  # where the factory writes it
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
    assert context["agent_type"] == "factory" and context["path"].endswith("factory-001/stop.json")
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
