"""Independent TaskSpecs built in parallel under `doit -n 3`: their agent sessions overlap, and
limits.parallel_sessions keeps them apart when it is 1 (the audit trail's launch and stop times).
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import pytest
from build_records import build_ok, done_record, launches
from conftest import events, read_audit, read_json, run_doit
from projects import HatchProject, module_body

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# 12. parallel


HOLD = 3.0  # seconds each factory works: three held sessions run in turn would take 9 s


def held_taskspecs(project: HatchProject, tids: list[str], hold: float) -> None:
    """Independent TaskSpecs whose scripted factory works `hold` seconds before it finishes."""
    for n, tid in enumerate(tids):
        body = module_body(f"par{n}", f"par{n}", str(n)) + f"\n<!-- scripted:hold={hold:g} -->\n"
        project.add_taskspec(tid, body=body)


def session_intervals(project: HatchProject) -> dict[tuple[str, str, int], tuple[float, float]]:
    """(taskspec, role, attempt) -> (launch, stop) times of each agent session, from the audit:
    the orchestrator's `launch` event and the first `stop` it recorded after it."""
    opened: dict[tuple[str, str, int], float] = {}
    intervals: dict[tuple[str, str, int], tuple[float, float]] = {}
    for event in read_audit(project):
        if event.get("event") not in ("launch", "stop"):
            continue
        key = (event["taskspec_id"], event["role"], int(event["attempt"]))
        at = datetime.fromisoformat(event["ts"]).timestamp()
        if event["event"] == "launch":
            opened[key] = at
        elif key in opened and key not in intervals:
            intervals[key] = (opened[key], at)
    assert set(intervals) == set(opened), f"sessions without a stop: {set(opened) - set(intervals)}"
    return intervals


def test_parallel_build_of_independent_taskspecs(project: HatchProject) -> None:
    tids = ["P1", "P2", "P3"]
    held_taskspecs(project, tids, HOLD)
    build_ok(project, "-n", "3")

    for tid in tids:
        assert done_record(project, tid).attempt == 1
        pane = project.layout.pane_log(tid, "factory", 1).read_text(encoding="utf-8")
        assert f"holding {HOLD:g}s" in pane, "the scripted factory did not hold"
    assert events(project, "step_error") == []
    assert len(launches(project)) == 6
    state = read_json(project.layout.current_state)
    assert {tid: state["taskspecs"][tid]["status"] for tid in tids} == dict.fromkeys(tids, "done")

    factories = {k: v for k, v in session_intervals(project).items() if k[1] == "factory"}
    assert len(factories) == 3
    for start, end in factories.values():
        assert end - start >= HOLD - 0.05, factories  # `ts` has millisecond resolution
    # All three factory sessions were alive at one instant: the latest launch came before the
    # earliest stop. Run one after another they could not be.
    last_launch = max(start for start, _ in factories.values())
    first_stop = min(end for _, end in factories.values())
    assert last_launch < first_stop, f"factory sessions did not overlap: {factories}"
    print(f"factory sessions alive together for {first_stop - last_launch:.2f}s")


def test_parallel_sessions_limit_keeps_sessions_apart(project: HatchProject) -> None:
    """limits.parallel_sessions: 1 under `doit -n 3`: one agent session at a time (locks.slot),
    though three doit workers want one each."""
    project.configure(limits={"parallel_sessions": 1})
    tids = ["S1", "S2", "S3"]
    held_taskspecs(project, tids, 1.5)
    done = run_doit(project, "-n", "3", timeout=180)
    assert done.returncode == 0, f"doit -n 3 failed:\n{done.stdout}\n{done.stderr}"

    for tid in tids:
        assert done_record(project, tid).attempt == 1
    intervals = sorted(session_intervals(project).items(), key=lambda item: item[1])
    assert len(intervals) == 6  # a factory and a QA session per TaskSpec
    for (before, (_, stopped)), (after, (launched, _)) in pairwise(intervals):
        assert launched >= stopped, f"{after} launched before {before} stopped: {intervals}"
    assert "waiting for a free agent slot" in done.stderr
