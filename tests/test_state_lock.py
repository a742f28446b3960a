"""One build at a time: a second `doit` in the same project refuses at once in one line (while
`doit list` still works), and with HATCHDOIT_LOCK_WAIT=1 it waits for the running build instead,
then finds everything done: no agent is launched twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter

import pytest
from conftest import background_doit, doit_output, events, retry_until, run_doit
from projects import HatchProject
from state_safety import TID, problem_lines

from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


def agent_working(project: HatchProject, proc: subprocess.Popen[str], tid: str = TID) -> None:
    marker = project.layout.marker(tid, "factory", 1, "submitted")

    def probe() -> bool:
        assert proc.poll() is None, "doit ended before the agent was working"
        return marker.exists()

    retry_until(probe, timeout=60, what="factory agent working")


def launches_per_attempt(project: HatchProject) -> Counter[tuple[str, str, int]]:
    return Counter(
        (e["taskspec_id"], e["role"], int(e["attempt"])) for e in events(project, "launch")
    )


# --------------------------------------------------------------------------------------------
# One build at a time


def test_second_build_refuses_at_once_and_list_still_works(project: HatchProject) -> None:
    project.configure(limits={"factory": {"idle_timeout": 60, "wall_timeout": 120}})
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=1)
    with background_doit(project) as first:
        agent_working(project, first)
        started = time.monotonic()
        second = run_doit(project, timeout=30)
        refused_in = time.monotonic() - started
        listing = run_doit(project, "list", "--all", "--status", timeout=30)
        # An option's value is not the command: this is `doit list` too.
        listing_f = run_doit(project, "-f", "dodo.py", "list", "--all", timeout=30)
        assert first.poll() is None
        os.kill(first.pid, signal.SIGKILL)

    output = second.stdout + second.stderr
    assert second.returncode != 0, output
    lines = problem_lines(output)
    assert len(lines) == 1, output
    assert f"another build is running in this project (pid {first.pid})" in lines[0]
    assert "HATCHDOIT_LOCK_WAIT=1" in lines[0]
    assert "Traceback" not in output
    assert listing.returncode == 0 and f"taskspec:{TID}" in listing.stdout
    assert listing_f.returncode == 0 and f"taskspec:{TID}" in listing_f.stdout, listing_f.stderr
    assert launches_per_attempt(project) == {(TID, "factory", 1): 1}
    print(f"\n[lock] second doit refused in {refused_in:.2f}s")


def test_lock_wait_waits_for_the_running_build(project: HatchProject) -> None:
    """With HATCHDOIT_LOCK_WAIT=1 the second build blocks until the first ends, then finds
    everything done: no agent is launched twice."""
    project.configure(limits={"factory": {"idle_timeout": 2, "wall_timeout": 60}})
    project.add_taskspec(TID, scripted={"factory": ["hang", "succeed"]}, max_attempts=2)
    waiting_env = {**project.env, "HATCHDOIT_LOCK_WAIT": "1"}
    with background_doit(project) as first:
        agent_working(project, first)
        with background_doit(project, env=waiting_env) as second:
            time.sleep(1.0)  # the observation window: nothing may happen in it
            assert second.poll() is None, "the waiting build did not wait"
            assert first.wait(timeout=60) == 0
            first_ended = time.monotonic()
            second.wait(timeout=60)
            second_ended = time.monotonic()
    assert second.returncode == 0, doit_output(project, second)
    assert second_ended >= first_ended
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 2
    assert launches_per_attempt(project) == {
        (TID, "factory", 1): 1,
        (TID, "factory", 2): 1,
        (TID, "qa", 2): 1,
    }
