"""The start order's effect: the makespan of a plan against its lower bound (issue 28, item 4).

The plan: 6 independent TaskSpecs and a chain of 4 whose ids sort last (as plans often put
their deep work), every factory working `HOLD` seconds, `integrate: merge`, `doit -n 2` with 2
agent slots. It is built twice in the same run, alternating, with `limits.start_order:
critical-path` (hatchdoit's default) and `plan` (doit's own first-in first-out, definition
order).

Lower bound of a build, from its own audit trail: each TaskSpec's work is the sum of its steps'
durations; the bound is the larger of the chain's work and all work over the 2 workers. The
makespan is the first step's start to the last step's end.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections import defaultdict
from typing import Any

from bench.fixtures import Sandbox, doit_argv
from bench.results import Row, Section, secs
from bench.sizes import Sizes
from hatchdoit.core.jsonlines import read_json_lines
from hatchdoit.layout import Layout
from hatchdoit.observe.timeline import step_runs
from hatchdoit.run.gitops import ensure_repo
from tests.projects import module_body

HOLD = 3.0
WORKERS = 2
SIDES = [f"M{n}-SIDE" for n in range(1, 7)]
CHAIN = [f"W{n}-CHAIN" for n in range(1, 5)]  # sorts after every side
TARGET = 1.15
ORDERS = ("critical-path", "plan")


def build(sandbox: Sandbox, name: str, order: str) -> dict[str, Any]:
    """Build the plan once with the given start order; its makespan, bound and start order."""
    project = sandbox.project(name)
    project.configure(
        integrate="merge",
        limits={"parallel_sessions": WORKERS, "start_order": order, "poll_interval": 0.5},
    )
    for n, tid in enumerate(SIDES + CHAIN):
        body = module_body(f"mk{n}", f"mk{n}", str(n)) + f"\n<!-- scripted:hold={HOLD:g} -->\n"
        at = CHAIN.index(tid) if tid in CHAIN else 0
        project.add_taskspec(tid, body=body, depends_on=[CHAIN[at - 1]] if at else [])
    ensure_repo(project.root / "_target", project.seed)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            doit_argv("-n", str(WORKERS)),
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        sandbox.kill_server(project.socket)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise RuntimeError(f"doit -n {WORKERS} ({order}) exited {done.returncode}: {tail}")
    return {"order": order, "wall": wall, **measured(Layout(project.root))}


def measured(layout: Layout) -> dict[str, Any]:
    runs = [r for r in step_runs(read_json_lines(layout.audit)) if r.end is not None]
    work: dict[str, float] = defaultdict(float)
    for run in runs:
        work[run.taskspec_id] += run.duration or 0.0
    first = min(r.start for r in runs)
    makespan = (max(r.end for r in runs if r.end) - first).total_seconds()
    chain = sum(work[tid] for tid in CHAIN)
    total = sum(work.values())
    bound = max(chain, total / WORKERS)
    factories = sorted((r.start, r.taskspec_id) for r in runs if r.step == "factory")
    return {
        "makespan": makespan,
        "chain_work": chain,
        "all_work_over_workers": total / WORKERS,
        "bound": bound,
        "ratio": makespan / bound,
        "factory_start_order": [tid for _, tid in factories],
    }


def _median(builds: list[dict[str, Any]], key: str) -> str:
    return secs(statistics.median(b[key] for b in builds))


def run(sandbox: Sandbox, sizes: Sizes) -> Section:
    pairs = 1 if sizes.repeats <= 3 else 2
    builds: dict[str, list[dict[str, Any]]] = {order: [] for order in ORDERS}
    for n in range(pairs):  # interleaved: the machine's load falls on both alike
        for order in ORDERS:
            builds[order].append(build(sandbox, f"makespan-{order}-{n}", order))
    ratio = {order: statistics.median(b["ratio"] for b in builds[order]) for order in ORDERS}
    rows = []
    for order in ORDERS:
        made = builds[order]
        spans = [b["makespan"] for b in made]
        first = made[0]["factory_start_order"]
        rows.append(
            Row(
                key=f"makespan_{order.replace('-', '_')}",
                measure=(
                    f"makespan, {len(SIDES)} independent TaskSpecs + a chain of {len(CHAIN)} "
                    f"sorting last, factories {HOLD:g}s, `doit -n {WORKERS}`, {WORKERS} slots: "
                    f"`start_order: {order}`"
                ),
                hatchdoit=f"{secs(statistics.median(spans))} ({ratio[order]:.2f}x its bound)",
                baseline=f"bound {_median(made, 'bound')}: max of chain work "
                f"{_median(made, 'chain_work')} and all work / {WORKERS} "
                f"{_median(made, 'all_work_over_workers')}",
                comparison=f"{len(made)} build(s), range {min(b['ratio'] for b in made):.2f}-"
                f"{max(b['ratio'] for b in made):.2f}x; first factories: {', '.join(first[:4])}",
                target=f"<= {TARGET}x the bound" if order == "critical-path" else "(beside it)",
                met=ratio[order] <= TARGET if order == "critical-path" else None,
                note="same run, builds alternating",
            )
        )
    return Section(name="makespan", rows=rows, data={"builds": builds})
