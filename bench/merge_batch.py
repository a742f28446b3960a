"""The merge queue's batches (issue 28, item 4): how long approved work waits to land.

Landing time: 9 independent TaskSpecs are built to their approved commits together (`doit -n 4
taskspec`), then one `doit -n 3` integrates them with a project-wide integration test of `TEST`
seconds; reported as the integrating `doit`'s wall time in test durations, with
`integration.batch_max: 8` (default) and `1` (one at a time) in the same run.

Test runs with a culprit: 12 TaskSpecs approved together, one of them (the 6th) makes the
integration test fail; the integration test appends a line to a file per run. Reported: the
runs until 11 landed and the culprit went back (`max_attempts: 0`: it escalates at once).

Also reported: the doit worker-seconds spent in integrate steps (audit step start to end), the
time those workers could not run an agent.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.fixtures import Sandbox, doit_argv
from bench.integration import approve_then_time, integrate_seconds
from bench.results import Row, Section, secs
from bench.sizes import Sizes
from hatchdoit.layout import Layout
from hatchdoit.records.models import IntegrationRecord
from hatchdoit.records.schemas import try_load

TEST = 2.0
TOGETHER = 9
TARGET_DURATIONS = 4.0
CULPRIT_AMONG = 12
TARGET_RUNS = 9


def suite(runs: Path, seconds: float, fail_if: str = "") -> list[str]:
    script = (
        "import pathlib, sys, time\n"
        f"time.sleep({seconds!r})\n"
        f"with pathlib.Path({str(runs)!r}).open('a') as out:\n"
        "    out.write('run\\n')\n"
        f"bad = {fail_if!r} and any(pathlib.Path('.').rglob({fail_if!r}))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    return [sys.executable, "-c", script]


def land(sandbox: Sandbox, name: str, count: int, batch_max: int, **extra: Any) -> dict[str, Any]:
    """Build `count` TaskSpecs to approved, then time the `doit -n 3` that lands them."""
    project = sandbox.project(name)
    runs = project.root.parent / f"{name}-runs"
    culprit = extra.get("culprit", "")
    integration = {
        "test_command": suite(runs, extra.get("test", TEST), culprit and f"m_{culprit.lower()}.py"),
        "batch_max": batch_max,
        "max_attempts": 0,
    }
    project.configure(integrate="merge", limits={"parallel_sessions": 4}, integration=integration)
    tids = [f"Q{n:02d}" for n in range(count)]
    _, timed = approve_then_time(sandbox, project, tids, doit_argv("-n", "3", "--continue"))
    layout = Layout(project.root)
    outcomes = {}
    for tid in tids:
        record = try_load(layout.integration(tid), IntegrationRecord)
        outcomes[tid] = record.outcome if record else "none"
    landed = sum(1 for o in outcomes.values() if o == "integrated")
    expected = count - (1 if culprit else 0)
    if landed != expected or (culprit and outcomes[culprit] != "escalated"):
        tail = " | ".join((timed.stderr or timed.stdout).strip().splitlines()[-4:])
        raise RuntimeError(f"{name}: outcomes {outcomes}: {tail}")
    ran = len(runs.read_text().splitlines()) if runs.exists() else 0
    held = sum(integrate_seconds(layout).values())  # doit worker-seconds in integrate steps
    return {"wall": timed.wall, "runs": ran, "outcomes": outcomes, "worker_seconds": held}


def run(sandbox: Sandbox, sizes: Sizes) -> Section:
    together = land(sandbox, "batch-together", TOGETHER, 8)
    alone = land(sandbox, "batch-alone", TOGETHER, 1)
    durations = together["wall"] / TEST
    culprit = land(sandbox, "batch-culprit", CULPRIT_AMONG, 8, culprit="Q05", test=0.2)
    rows = [
        Row(
            key="merge_batch_time",
            measure=f"integration of {TOGETHER} TaskSpecs approved together, a {TEST:g} s "
            "integration test, `doit -n 3`",
            hatchdoit=f"{durations:.1f} test durations ({secs(together['wall'])}; "
            f"{together['runs']} test run(s)), `batch_max: 8`",
            baseline=f"one at a time (`batch_max: 1`): {alone['wall'] / TEST:.1f} test "
            f"durations ({secs(alone['wall'])}; {alone['runs']} runs)",
            comparison=f"{alone['wall'] / together['wall']:.1f}x faster",
            target=f"<= {TARGET_DURATIONS:g} test durations",
            met=durations <= TARGET_DURATIONS,
            note="the integrating doit's wall time (TaskSpecs already approved) over the test's; "
            f"doit workers held by integrate steps: {secs(together['worker_seconds'])} "
            f"(one at a time: {secs(alone['worker_seconds'])})",
        ),
        Row(
            key="merge_batch_culprit_runs",
            measure=f"test runs to land {CULPRIT_AMONG - 1} good TaskSpecs and return 1 culprit "
            f"(the 6th) among {CULPRIT_AMONG}",
            hatchdoit=f"{culprit['runs']} runs",
            baseline=f"one at a time: {CULPRIT_AMONG} runs",
            comparison=f"batches of 8 and 4; {secs(culprit['wall'])}",
            target=f"<= {TARGET_RUNS} runs",
            met=culprit["runs"] <= TARGET_RUNS,
            note="a red batch is retried once, then bisected by ordered prefixes",
        ),
    ]
    data = {"together": together, "alone": alone, "culprit": culprit}
    return Section(name="batch", rows=rows, data=data)
