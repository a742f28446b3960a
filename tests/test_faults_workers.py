"""`doit -n 2` with a killed process: a worker SIGKILLed at a fault point neither hangs the build
nor goes unnamed, and the rerun re-attaches to its agent session; the main process SIGKILLed
leaves no worker holding the build lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from conftest import retry_until, run_doit
from projects import HatchProject, doit_executable, module_body
from resume_checks import assert_artifacts_valid_for, audit_after, audit_lines, doit_pids

from hatchdoit.records.models import DoneRecord, LaunchRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# doit -n 2: a killed worker, a killed main process


@contextmanager
def own_session_doit(
    project: HatchProject, *args: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """doit in a process group of its own, killed as a group at the end of the block."""
    proc = subprocess.Popen(
        [doit_executable(), *args],
        cwd=project.root,
        env=env or project.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def two_parallel_taskspecs(project: HatchProject, factory: list[str]) -> None:
    project.configure(limits={"factory": {"idle_timeout": 3, "wall_timeout": 60}})
    for n, tid in enumerate(("NA", "NB")):
        project.add_taskspec(
            tid,
            body=module_body(f"n{n}", f"n{n}", str(n)),
            scripted={"factory": factory},
            max_attempts=2,
        )


def test_worker_killed_under_doit_n2_does_not_hang_the_build(project: HatchProject) -> None:
    two_parallel_taskspecs(project, ["succeed"])
    env = {**project.env, "HATCHDOIT_FAULT": "wait.started@NA#1"}
    with own_session_doit(project, "-n", "2", env=env) as proc:
        retry_until(lambda: project.layout.done("NB").exists(), timeout=90, what="NB done")
        try:
            code: int | None = proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            code = None
    assert code is not None and code != 0, "doit -n 2 still running 8 s after its last task"


@pytest.mark.slow  # 12 s; the other worker kills here stay in the default run
def test_killed_worker_is_named_and_the_rerun_resumes(project: HatchProject) -> None:
    """What a dead worker leaves: a line naming its step at once and one when the build stops,
    exit 1, no doit process, its agent session; the rerun (which takes the build lock) re-attaches
    to that session instead of launching it again."""
    two_parallel_taskspecs(project, ["hang", "succeed"])
    env = {**project.env, "HATCHDOIT_FAULT": "wait.started@NA#1"}
    killed = subprocess.run(
        [doit_executable(), "-n", "2"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = killed.stdout + killed.stderr
    assert killed.returncode == 1, output
    assert "Traceback" not in output, output
    noticed = [line for line in output.splitlines() if "the build goes on" in line]
    assert len(noticed) == 1 and "running factory:NA.1" in noticed[0], output
    stopped = [line for line in output.splitlines() if "build stopped" in line]
    assert len(stopped) == 1, output
    assert stopped[0].startswith("hatchdoit: build stopped: doit worker ")
    assert "was killed by SIGKILL while running factory:NA.1" in stopped[0]
    assert stopped[0].endswith("rerun doit to resume")
    retry_until(lambda: not doit_pids(project.root), timeout=10, what="doit processes gone")
    session = load_valid(project.layout.launch_record("NA", "factory", 1), LaunchRecord).session
    assert project.session_alive(session), "the agent session died with its worker"

    mark = audit_lines(project)
    rerun = run_doit(project, "-n", "2", timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for tid in ("NA", "NB"):
        assert load_valid(project.layout.done(tid), DoneRecord).attempt == 2
    after = audit_after(project, mark)
    relaunched = [
        e
        for e in after
        if e["event"] == "launch" and e["taskspec_id"] == "NA" and e["role"] == "factory"
    ]
    assert [e["attempt"] for e in relaunched] == [2], relaunched
    assert any(e["event"] == "reattach" and e["taskspec_id"] == "NA" for e in after)
    assert_artifacts_valid_for(project, ["NA", "NB"])


def test_sigkill_of_doit_n2_leaves_nothing_holding_the_lock(project: HatchProject) -> None:
    two_parallel_taskspecs(project, ["hang", "succeed"])
    with own_session_doit(project, "-n", "2") as proc:
        for tid in ("NA", "NB"):
            marker = project.layout.marker(tid, "factory", 1, "submitted")
            retry_until(lambda m=marker: m.exists(), timeout=60, what=f"{tid} agent working")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(1.0)  # the observation window for orphaned workers
        orphans = doit_pids(project.root)
        rerun = run_doit(project, "-n", "2", timeout=120)
    assert not orphans, f"doit workers left running after the main process was killed: {orphans}"
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
