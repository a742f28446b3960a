"""SIGTERM and SIGINT during an agent wait, under `doit` and `doit -n 2`: the build stops
cleanly (exit 128+signal, one `stopped by` line, no traceback, no doit process left, the agent
sessions alive), and the rerun re-attaches to the sessions instead of launching them again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import assert_logs_parse, retry_until, run_doit
from projects import HatchProject, doit_executable, module_body
from resume_checks import assert_artifacts_valid_for, audit_after, audit_lines, doit_pids

from hatchdoit.records.models import DoneRecord, LaunchRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# SIGTERM and SIGINT during an agent wait


@pytest.mark.parametrize(
    ("signum", "args"),
    [
        (signal.SIGTERM, ()),
        (signal.SIGINT, ()),
        pytest.param(signal.SIGTERM, ("-n", "2"), marks=pytest.mark.slow),
        pytest.param(signal.SIGINT, ("-n", "2"), marks=pytest.mark.slow),
    ],
    ids=["term", "int", "term-n2", "int-n2"],
)
def test_signal_during_agent_wait_stops_cleanly_and_rerun_resumes(
    project: HatchProject, signum: signal.Signals, args: tuple[str, ...]
) -> None:
    """SIGTERM goes to doit alone (a service manager); SIGINT to doit's whole process group, as
    Ctrl-C in a terminal does. Both TaskSpecs' agents hang in attempt 1 and work in attempt 2."""
    project.configure(limits={"factory": {"idle_timeout": 2, "wall_timeout": 60}})
    tids = ["SG1", "SG2"]
    for n, tid in enumerate(tids):
        project.add_taskspec(
            tid,
            body=module_body(f"sg{n}", f"sg{n}", str(n)),
            scripted={"factory": ["hang", "succeed"]},
            max_attempts=2,
        )
    out = project.root.parent / "signalled.out"
    with open(out, "w", encoding="utf-8") as handle:
        proc = subprocess.Popen(
            [doit_executable(), *args],
            cwd=project.root,
            env=project.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        waiting = tids if args else tids[:1]
        for tid in waiting:
            marker = project.layout.marker(tid, "factory", 1, "submitted")
            retry_until(lambda m=marker: proc.poll() is None and m.exists(), timeout=60)
        sessions = [
            load_valid(project.layout.launch_record(tid, "factory", 1), LaunchRecord).session
            for tid in waiting
        ]
        sent = time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        code = proc.wait(timeout=20)
        stopped_in = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    output = out.read_text(encoding="utf-8")
    assert code == 128 + signum, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    stop_lines = [line for line in output.splitlines() if f"stopped by {signum.name}" in line]
    assert len(stop_lines) == 1, output
    assert stop_lines[0].startswith("hatchdoit: ") and "run doit again to resume" in stop_lines[0]
    retry_until(lambda: not doit_pids(project.root), timeout=10, what="doit processes gone")
    assert all(project.session_alive(s) for s in sessions), "agent sessions died with doit"
    assert_logs_parse(project)
    json.loads(project.layout.current_state.read_text(encoding="utf-8"))
    print(f"\n  {signum.name} {' '.join(args)}: exit {code} after {stopped_in:.2f}s")

    mark = audit_lines(project)
    rerun = run_doit(project, *args, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for tid in tids:
        assert load_valid(project.layout.done(tid), DoneRecord).attempt == 2
    after = audit_after(project, mark)
    relaunched = [
        e
        for e in after
        if e["event"] == "launch" and e["attempt"] == 1 and e["taskspec_id"] in waiting
    ]
    assert not relaunched, f"attempt 1 launched again instead of re-attached: {relaunched}"
    reattached = {e["taskspec_id"] for e in after if e["event"] == "reattach"}
    assert set(waiting) <= reattached
    assert_artifacts_valid_for(project, tids)
