"""A platform without pidfd_open, waitid(WNOWAIT), PR_SET_PDEATHSIG, /proc and mount namespaces
(macOS), simulated on Linux by core/platform.py's test-only switch HATCHDOIT_TEST_PLATFORM: the
worker watch still notices a killed worker, a killed main process still takes its workers along
and frees the build lock, the live view still finds the build, and `doctor` says what is used.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import retry_until, run_doit
from projects import HatchProject, doit_executable
from resume_checks import doit_pids
from script_harness import bsd_bin
from test_faults_workers import own_session_doit, two_parallel_taskspecs

from hatchdoit.build import worker_procs as workers
from hatchdoit.cli.doctor_platform import check_bash
from hatchdoit.core import platform
from hatchdoit.layout import Layout
from hatchdoit.observe.live import running_build

MACOS = {platform.SIMULATE: "macos"}


def test_the_switch_removes_each_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(platform.SIMULATE, raising=False)
    assert platform.has_pidfd() and platform.has_waitid_nowait() and platform.has_proc()
    assert platform.has_pdeathsig() and platform.has_namespaces()
    assert all(f.native for f in platform.features())
    monkeypatch.setenv(platform.SIMULATE, "macos")
    assert not any(
        (
            platform.has_pidfd(),
            platform.has_waitid_nowait(),
            platform.has_pdeathsig(),
            platform.has_proc(),
            platform.has_namespaces(),
        )
    )
    assert platform.platform_name().startswith("linux (simulated without namespaces, pdeathsig")
    monkeypatch.setenv(platform.SIMULATE, "waitid, nonsense")
    assert platform.simulated_missing() == {"waitid"}


@pytest.mark.parametrize("missing", ["", "waitid"], ids=["waitid", "psutil"])
def test_peek_child_never_reaps(missing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Running, ended (how, where waitid says it; unknown without it) and reaped: the child stays
    for its parent to reap, as doit's Process.join() does."""
    monkeypatch.setenv(platform.SIMULATE, missing)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert workers.peek_child(child.pid) == workers.RUNNING
        child.send_signal(signal.SIGKILL)
        ended = retry_until(
            lambda: workers.peek_child(child.pid) != workers.RUNNING, timeout=10, what="ended"
        )
        if missing:
            assert workers.peek_child(child.pid) is None
        else:
            assert workers.peek_child(child.pid) == (os.CLD_KILLED, signal.SIGKILL)
        assert ended
        assert child.poll() == -signal.SIGKILL  # still there to reap: peek_child did not
        assert workers.peek_child(child.pid) == workers.GONE
    finally:
        child.kill()
        child.wait()


def test_running_build_without_proc_reads_the_recorded_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(platform.SIMULATE, "proc")
    layout = Layout(tmp_path)
    lock = layout.locks / "build.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(str(os.getpid()))
    assert running_build(layout) == os.getpid()
    gone = subprocess.Popen(["true"])
    gone.wait()
    lock.write_text(str(gone.pid))
    assert running_build(layout) is None


@pytest.mark.integration
def test_killed_worker_does_not_hang_the_build_without_pidfd_or_waitid(
    project: HatchProject,
) -> None:
    """The watch polls the worker's pid and, with no exit status to read, takes a worker doit
    leaves unreaped as lost: the build ends with one line naming it."""
    two_parallel_taskspecs(project, ["succeed"])
    env = {**project.env, **MACOS, "HATCHDOIT_FAULT": "wait.started@NA#1"}
    done = subprocess.run(
        [doit_executable(), "-n", "2"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    stopped = [line for line in output.splitlines() if "build stopped" in line]
    assert len(stopped) == 1, output
    assert (
        "ended (how is unknown: no waitid on this platform) while running factory:NA.1"
        in (stopped[0])
    ), output
    assert project.layout.done("NB").exists()


@pytest.mark.integration
def test_sigkill_of_doit_n2_frees_the_lock_without_pdeathsig(project: HatchProject) -> None:
    """No PR_SET_PDEATHSIG: each worker watches the main process and ends itself when it is
    gone, so nothing holds the build lock and the rerun (same platform) finishes."""
    two_parallel_taskspecs(project, ["hang", "succeed"])
    env = {**project.env, **MACOS}
    with own_session_doit(project, "-n", "2", env=env) as proc:
        for tid in ("NA", "NB"):
            marker = project.layout.marker(tid, "factory", 1, "submitted")
            retry_until(lambda m=marker: m.exists(), timeout=60, what=f"{tid} agent working")
        workers_before = [p for p in doit_pids(project.root) if p != proc.pid]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        retry_until(lambda: not doit_pids(project.root), timeout=10, what="workers gone")
    assert workers_before, "doit -n 2 forked no worker"
    assert running_build(project.layout) is None
    project.env.update(MACOS)
    rerun = run_doit(project, "-n", "2", timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr


def test_doctor_on_a_platform_without_namespaces(tmp_path: Path) -> None:
    """`hatchdoit doctor` names the platform and what each feature uses there; without mount
    namespaces the plan view is the snapshot."""
    env = {**os.environ, **MACOS}
    done = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "doctor", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["platform"]["detail"].startswith("linux (simulated without namespaces")
    assert "snapshot" in checks["read-only plan view"]["detail"]
    assert "polling" in checks["worker watch"]["detail"]
    assert "parent" in checks["workers die with the build"]["detail"]
    native = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "doctor", "--json"],
        cwd=tmp_path,
        env={k: v for k, v in env.items() if k != platform.SIMULATE},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    checks = {c["name"]: c for c in json.loads(native.stdout)["checks"]}
    assert checks["platform"]["detail"] == "linux"
    assert checks["worker watch"]["status"] == "ok" and "pidfd" in checks["worker watch"]["detail"]


@pytest.mark.parametrize(("version", "status"), [("3.2", "fail"), ("4.1", "fail"), ("5.2", "ok")])
def test_doctor_checks_the_first_bash_on_path(
    version: str, status: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS's /bin/bash is 3.2: doctor fails, naming the fix, unless a 4.2+ bash comes first."""
    fake = tmp_path / "bash"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    check = check_bash()
    assert (check.status, str(fake) in check.detail) == (status, True), check
    if status == "fail":
        assert "brew install bash" in check.fix


def test_workers_are_forked_where_the_default_is_spawn() -> None:
    """macOS's default start method is spawn: supervise() makes doit's workers forks again."""
    code = (
        "import multiprocessing as m; m.set_start_method('spawn');"
        "from hatchdoit.build import workers; workers.supervise('s', None);"
        "print(m.get_start_method())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "fork\n"


@pytest.mark.integration
def test_a_build_on_simulated_macos(project: HatchProject) -> None:
    """The whole chain with every Linux means removed and BSD's userland first on PATH:
    worktrees, agent sessions, stop hooks, checks, QA and delivery of two TaskSpecs at once."""
    two_parallel_taskspecs(project, ["succeed"])
    project.env.update(MACOS)
    project.env["PATH"] = f"{bsd_bin()}{os.pathsep}{project.env['PATH']}"
    done = run_doit(project, "-n", "2", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    for tid in ("NA", "NB"):
        assert project.layout.done(tid).is_file()
