"""Measure 5: delivery (`integrate: merge`), TaskSpecs landed one at a time on the branch.

A project of N independent TaskSpecs (`test_command: true`, the scripted agent) is first built
to its approved commits (`doit -n 4 taskspec`), then one `doit` integrates them all, one after
the other (one integration at a time per target repo). Reported: what an integration costs
beyond the test run it makes on the merged tree (its step's duration from the audit trail less
the post-merge tests' own durations from integrate.json), per TaskSpec; and the whole sequence
of N integrations.
"""

from __future__ import annotations

from datetime import datetime

from bench.fixtures import HatchProject, Sandbox, Timed, doit_argv, run_timed
from bench.results import Row, Section, median, secs, summary
from bench.sizes import Sizes
from hatchdoit.layout import Layout
from hatchdoit.records.audit import read_audit
from hatchdoit.records.models import IntegrationRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.run.gitops import ensure_repo

TARGET_OVERHEAD = 0.3


def integrate_seconds(layout: Layout) -> dict[str, float]:
    """TaskSpec -> seconds of its integrate step (step_start -> step_end)."""
    opened: dict[str, float] = {}
    took: dict[str, float] = {}
    for event in read_audit(layout.audit):
        if event.get("step") != "integrate":
            continue
        at = datetime.fromisoformat(str(event["ts"])).timestamp()
        tid = str(event["taskspec_id"])
        if event["event"] == "step_start":
            opened[tid] = at
        elif event["event"] == "step_end" and tid in opened:
            took[tid] = at - opened.pop(tid)
    return took


def approve_then_time(
    sandbox: Sandbox, project: HatchProject, tids: list[str], argv: list[str]
) -> tuple[Timed, Timed]:
    """TaskSpecs `tids` (tests `true`) built to approved commits by `doit -n 4 taskspec`, then
    `argv`, the integrating run, timed: (the build, the integrating run)."""
    for tid in tids:
        project.add_taskspec(tid, test_command="true")
    ensure_repo(project.root / "_target", project.seed)
    try:
        built = run_timed(doit_argv("-n", "4", "taskspec"), cwd=project.root, env=project.env,
                          timeout=1800)  # fmt: skip
        built.check("doit -n 4 taskspec")
        timed = run_timed(argv, cwd=project.root, env=project.env, timeout=1800)
    finally:
        sandbox.kill_server(project.socket)
    return built, timed


def run(sandbox: Sandbox, sizes: Sizes) -> Section:
    project = sandbox.project("integrate")
    project.configure(integrate="merge", limits={"parallel_sessions": 4})
    tids = [f"I{n:03d}" for n in range(sizes.integrations)]
    built, timed = approve_then_time(sandbox, project, tids, doit_argv())
    timed.check("doit (integrating)")
    layout = Layout(project.root)
    took = integrate_seconds(layout)
    beyond = []
    for tid in tids:
        record = try_load(layout.integration(tid), IntegrationRecord)
        if record is None or record.outcome != "integrated" or tid not in took:
            raise RuntimeError(f"{tid} was not integrated")
        beyond.append(took[tid] - sum(t.duration_s for t in record.tests))
    per = summary(beyond)
    tests = median([took[tid] - extra for tid, extra in zip(tids, beyond, strict=True)])
    overhead = Row(
        key="integration_overhead",
        measure="one integration (`integrate: merge`) beyond its post-merge test run",
        hatchdoit=f"p50 {secs(per['p50'])} / max {secs(per['max'])} ({len(beyond)} TaskSpecs)",
        baseline="-",
        comparison=f"its test run (`true`): {secs(tests)}",
        target="<= 0.30 s",
        met=per["p50"] <= TARGET_OVERHEAD,
        note="the integrate step's audit duration less its tests' own: the lock, the "
        "integration worktree's checkout at the tip, the merge, the compare-and-swap, the "
        "receipt, the seeded checkout's update",
    )
    sequence = Row(
        key="integration_sequence",
        measure=f"{len(tids)} independent TaskSpecs integrated in sequence by one `doit`",
        hatchdoit=f"{secs(timed.wall)} ({secs(timed.wall / len(tids))} per TaskSpec)",
        baseline="-",
        comparison=f"their build to approved commits (`doit -n 4 taskspec`): {secs(built.wall)}",
        target="(reported)",
        met=None,
        note=f"one integration at a time per target repo; doit CPU {secs(timed.cpu)}",
    )
    return Section(
        name="integrate",
        rows=[overhead, sequence],
        data={"beyond_tests": beyond, "wall": timed.wall, "build_wall": built.wall},
    )
