"""Kill `doit` with SIGKILL mid-build, rerun, and check that nothing finished is done twice.

Launches are counted in `_logs/audit.jsonl`; a live agent session must be re-attached to, not
launched again, and no step whose receipt existed before the kill may start again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from conftest import assert_logs_parse, background_doit, events, read_audit, retry_until, run_doit
from projects import HatchProject, module_body
from resume_checks import finished_steps

from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS
from hatchdoit.records.models import DoneRecord, LaunchRecord, Receipt, WorktreeRecord
from hatchdoit.records.schemas import load_valid, try_load

pytestmark = pytest.mark.integration

TID = "R001-RESUME"


def sigkill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def build_ok(project: HatchProject, *args: str) -> None:
    done = run_doit(project, *args)
    assert done.returncode == 0, f"rerun failed:\n{done.stdout}\n{done.stderr}"


def step_starts(project: HatchProject) -> Counter[tuple[str, str, int]]:
    return Counter(
        (e["taskspec_id"], e["step"], int(e["attempt"]))
        for e in read_audit(project)
        if e["event"] == "step_start"
    )


def task_name(tid: str, step: str, attempt: int) -> str:
    """The doit task of a step (hatchdoit/graph.py's names)."""
    return f"{step}:{tid}" if step in ("worktree", "taskspec") else f"{step}:{tid}.{attempt}"


def list_status(project: HatchProject) -> dict[str, str]:
    """`doit list --all --status`: task name -> R (to run) or U (up to date)."""
    listing = run_doit(project, "list", "--all", "--status", timeout=60)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    status = {}
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in ("R", "U"):
            status[fields[1]] = fields[0]
    assert status, listing.stdout
    return status


def assert_all_up_to_date(project: HatchProject) -> None:
    status = list_status(project)
    assert [name for name, s in status.items() if s != "U"] == [], status


def valid_summary(tid: str, attempt: int) -> dict[str, Any]:
    """A factory summary in the seed's schema."""
    return {
        "taskspec_id": tid,
        "agent_type": "factory",
        "iteration": attempt,
        "status": "completed",
        "implementation_files": [],
        "test_results": {"passed": 1, "failed": 0},
        "loc_analysis": {"actual": 0, "cap": 200},
        "next_steps": ["QA validation required"],
        "handover_notes": "written by the resume test on behalf of a hung agent",
    }


def run_stop_hook(project: HatchProject, launch: LaunchRecord) -> None:
    """Write the factory's .stop the way its hook would, with the launch's run token."""
    layout = project.layout
    stop_file = layout.run_stop(launch.taskspec_id, launch.role, launch.attempt)
    env = {
        **project.env,
        "HATCHDOIT_STOP_FILE": str(stop_file),
        "HATCHDOIT_RUN_TOKEN": launch.run_token,
        "HATCHDOIT_TASKSPEC_ID": launch.taskspec_id,
        "HATCHDOIT_ROLE": launch.role,
        "HATCHDOIT_ATTEMPT": str(launch.attempt),
        "HATCHDOIT_PYTHON": sys.executable,
        "HATCHDOIT_LOGS_DIR": str(layout.logs),
    }
    payload = {"hook_event_name": "Stop", "session_id": "resume-test", "stop_hook_active": False}
    hook = BUNDLED_SCRIPTS / "agent" / "stop_hook.sh"
    subprocess.run(
        [str(hook), "stop"], input=json.dumps(payload), env=env, text=True, check=True, timeout=30
    )


# --------------------------------------------------------------------------------------------


def test_kill_while_factory_runs_then_rerun_reattaches(project: HatchProject) -> None:
    project.configure(limits={"factory": {"idle_timeout": 300, "wall_timeout": 300}})
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=2)
    layout = project.layout
    launch_path = layout.launch_record(TID, "factory", 1)

    with background_doit(project) as proc:

        def agent_running() -> LaunchRecord | None:
            assert proc.poll() is None, "doit ended before the agent was running"
            launch = try_load(launch_path, LaunchRecord)
            if launch is None or not layout.marker(TID, "factory", 1, "submitted").exists():
                return None
            return launch if project.session_alive(launch.session) else None

        launch = retry_until(agent_running, timeout=60, what="factory agent running")
        sigkill(proc)

    assert project.session_alive(launch.session), "the agent session died with doit"
    assert load_valid(layout.receipt(TID, "worktree", 0), Receipt).outcome == "ok"
    load_valid(layout.worktree_record(TID), WorktreeRecord)
    assert not layout.receipt(TID, "factory", 1).exists()
    assert_logs_parse(project)

    # What `doit list` says after the kill: the finished step is up to date, the interrupted one
    # and everything after it are to run (doit's own database was never written).
    status = list_status(project)
    finished = finished_steps(project)
    assert finished == {(TID, "worktree", 0)}
    assert {task_name(*step) for step in finished} <= {n for n, s in status.items() if s == "U"}
    assert status[f"worktree:{TID}"] == "U" and status["worktree"] == "U"
    assert status[f"factory:{TID}.1"] == "R", status
    assert status[f"taskspec:{TID}"] == "R" and status["taskspec"] == "R"

    # Let the hung agent "finish": a valid summary, then the stop its hook would write.
    summary = layout.run_handover(TID, "factory", 1)  # where the factory writes it
    summary.write_text(json.dumps(valid_summary(TID, 1)), encoding="utf-8")
    run_stop_hook(project, launch)

    build_ok(project)

    assert len(events(project, "launch", role="factory", attempt=1)) == 1
    assert events(project, "reattach", role="factory", attempt=1)
    starts = step_starts(project)
    assert starts[(TID, "worktree", 0)] == 1, "the worktree step was repeated"
    done = load_valid(layout.done(TID), DoneRecord)
    assert done.attempt == 1
    assert not project.session_alive(launch.session), "the finished session was left running"
    assert not layout.launch_record(TID, "factory", 2).exists()
    assert_all_up_to_date(project)
    assert_logs_parse(project)


def test_kill_after_first_verdict_repeats_no_finished_step(project: HatchProject) -> None:
    project.configure(
        limits={
            "factory": {"idle_timeout": 15, "wall_timeout": 60},
            "qa": {"idle_timeout": 15, "wall_timeout": 60},
        }
    )
    project.add_taskspec("RA", body=module_body("ra", "ra", "a"))
    project.add_taskspec("RB", body=module_body("rb", "rb", "b"), depends_on=["RA"])
    layout = project.layout
    verdict_receipt = layout.receipt("RA", "qa", 1)

    with background_doit(project) as proc:

        def verdict_written() -> bool:
            assert proc.poll() is None, "doit ended before RA's verdict"
            return verdict_receipt.exists()

        retry_until(verdict_written, timeout=60, interval=0.005, what="RA qa-001 receipt")
        sigkill(proc)

    finished = finished_steps(project)  # all of it was on disk before the kill
    assert ("RA", "qa", 1) in finished
    assert_logs_parse(project)
    status = list_status(project)
    stale = sorted(task_name(*step) for step in finished if status[task_name(*step)] != "U")
    assert not stale, f"finished steps listed as to run after the kill: {stale}"
    assert status["taskspec:RB"] == "R" and status["qa:RB.1"] == "R", status

    build_ok(project)

    starts = step_starts(project)
    repeated = sorted(step for step in finished if starts[step] != 1)
    assert not repeated, f"finished steps started again: {repeated}"
    launched = Counter(
        (e["taskspec_id"], e["role"], e["attempt"]) for e in events(project, "launch")
    )
    assert max(launched.values()) == 1, f"an agent was launched twice: {launched}"
    for tid in ("RA", "RB"):
        assert load_valid(layout.done(tid), DoneRecord).attempt == 1
    assert_all_up_to_date(project)
    assert_logs_parse(project)


class _Killed(BaseException):
    """Stands in for SIGKILL at one exact instant of a step."""


def test_kill_between_launch_and_prompt_delivery(
    project: HatchProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instant is reproduced in-process: the real step runs until its prompt delivery,
    which raises instead. Then a real `doit` must finish the attempt without a fault."""
    project.configure(limits={"factory": {"idle_timeout": 4, "wall_timeout": 30}})
    project.add_taskspec(TID, max_attempts=1)
    build_ok(project, f"worktree:{TID}")

    from hatchdoit.build import actions
    from hatchdoit.steps import agent_session

    def killed(*_args: Any, **_kwargs: Any) -> None:
        raise _Killed

    for key, value in project.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(agent_session, "deliver", killed)
    with pytest.raises(_Killed):
        actions.run_step(str(project.root), "factory", TID, 1)
    launch = load_valid(project.layout.launch_record(TID, "factory", 1), LaunchRecord)
    assert project.session_alive(launch.session)
    assert not project.layout.marker(TID, "factory", 1, "submitted").exists()
    monkeypatch.undo()

    result = run_doit(project, timeout=60)

    stops = events(project, "stop", role="factory", attempt=1)
    assert [s["source"] for s in stops] == ["hook"], stops
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    assert result.returncode == 0
