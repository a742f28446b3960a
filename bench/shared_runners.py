"""`hatchdoit ci --shared` on 1, 2 and 3 machines (issue 29): the speed-up of sharing one build.

The plan: 12 independent TaskSpecs whose factories work `HOLD` seconds each (the scripted
agent's hold), `integrate: pr` with the stand-in gh. Each machine is a project of its own (its
`_logs`, HOME, tmux server and clone of the target), all sharing one bare remote, as in
tests/test_shared_runners.py; every runner runs `hatchdoit ci --shared` (one TaskSpec at a time).
The wall time is from starting the runners to the last one's exit; the speed-up is the one
machine's wall time over N machines'. Target: >= 2.4x on 3. The "machines" share this one's
CPUs: on fewer than 3 cores, 3 of them contend for CPU in each TaskSpec's non-agent steps.

    python -m bench --only shared          # the row in docs/benchmarks.md
    python -m bench.shared_runners [--hold SECONDS]   # prints the JSON, then the table rows

`--quick` (the smoke test): 6 TaskSpecs whose factories work the quick hold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fixtures import Sandbox
from bench.results import Row, Section, secs
from bench.sizes import Sizes
from tests.projects import CHECKOUT, module_body

sys.path.insert(0, str(CHECKOUT / "tests"))  # shared_machines imports its siblings plainly
from shared_machines import Fleet, make_fleet

HOLD = 3.0
TASKSPECS = [f"P{n:02d}" for n in range(1, 13)]
MACHINES = (1, 2, 3)
TARGET = 2.4


def build(tmp: Path, machines: int, hold: float, count: int = len(TASKSPECS)) -> dict[str, Any]:
    """Build the plan on `machines` runners at once: wall time, who built what."""
    fleet: Fleet = make_fleet(tmp, machines, lease=60.0)
    try:
        for n, tid in enumerate(TASKSPECS[:count]):
            body = module_body(f"sh{n}", f"sh{n}", str(n)) + f"\n<!-- scripted:hold={hold:g} -->\n"
            fleet.first.add_taskspec(tid, body=body)
        started = time.perf_counter()
        procs = [fleet.start(m, "--shared", "--runner", f"m{i}") for i, m in
                 enumerate(fleet.machines)]  # fmt: skip
        outputs = [p.communicate(timeout=1800)[0] for p in procs]
        wall = time.perf_counter() - started
        codes = [p.returncode for p in procs]
        if any(codes):
            raise RuntimeError(f"runners exited {codes}: {outputs[codes.index(max(codes))][-400:]}")
        claimed = [line.split()[2] for out in outputs for line in out.splitlines()
                   if " claimed " in line]  # fmt: skip
        launches = sum(1 for key in fleet.launches() if key[1] == "factory")
        return {"machines": machines, "wall": wall, "claims": claimed, "factory_runs": launches}
    finally:
        fleet.teardown()


def measure(sandbox: Sandbox, sizes: Sizes) -> Section:
    """`python -m bench`'s entry: the full plan, or 6 TaskSpecs of the quick hold."""
    if sizes.quick:
        return run(sizes.hold, 6, sandbox.root)
    return run(HOLD, len(TASKSPECS), sandbox.root)


def run(hold: float = HOLD, count: int = len(TASKSPECS), root: Path | None = None) -> Section:
    results = []
    with tempfile.TemporaryDirectory(prefix="hdbench-shared-", dir=root) as tmp:
        for machines in MACHINES:
            where = Path(tmp) / f"n{machines}"
            where.mkdir()
            results.append(build(where, machines, hold, count))
    one = results[0]["wall"]
    rows = []
    for result in results[1:]:
        speedup = one / result["wall"]
        on = result["machines"]
        rows.append(
            Row(
                key=f"shared_{result['machines']}",
                measure=f"{count} TaskSpecs ({hold:g} s factories) on {on} machines "
                "sharing one build (`ci --shared`)",
                hatchdoit=secs(result["wall"]),
                baseline=f"{secs(one)} on 1 machine",
                comparison=f"{speedup:.2f}x",
                target=f">= {TARGET}x" if result["machines"] == 3 else "-",
                met=speedup >= TARGET if result["machines"] == 3 else None,
                note=f"{result['factory_runs']} factory runs ({count}: each built once); "
                f"{on} machines on {os.cpu_count()} CPU(s)",
            )
        )
    return Section("shared_runners", rows, {"runs": results})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hold", type=float, default=HOLD)
    section = run(parser.parse_args().hold)
    print(json.dumps(section.to_json(), indent=2))
    for row in section.rows:
        print(f"| {row.measure} | {row.hatchdoit} | {row.baseline} | {row.comparison} | "
              f"{row.target} | {row.note} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
