"""Critical path first (build/priority.py, build/dispatch_order.py): a chain whose ids sort last
starts before independent TaskSpecs under a real `doit -n 2`, the project's history changes the
order, and `hatchdoit plan` shows each TaskSpec's place, priority and predicted duration."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from build_records import build_ok, launches
from daily_use import hatchdoit
from projects import HatchProject, module_body

from hatchdoit.build.priority import chain_priorities

pytestmark = pytest.mark.integration

SIDES = ["A1", "A2", "A3"]
CHAIN = ["Z1", "Z2", "Z3"]  # each depends on the one before; their ids sort after every side's


def write_plan(project: HatchProject, hold: float = 0) -> None:
    for n, tid in enumerate(SIDES + CHAIN):
        body = module_body(f"m{n}", f"f{n}", str(n))
        if hold:
            body += f"\n<!-- scripted:hold={hold:g} -->\n"
        deps = [CHAIN[CHAIN.index(tid) - 1]] if tid in CHAIN[1:] else []
        project.add_taskspec(tid, body=body, depends_on=deps)


def plan_rows(project: HatchProject) -> dict[str, dict[str, Any]]:
    done = hatchdoit(project, "plan", "--json")
    assert done.returncode == 0, done.stderr
    return {row["id"]: row for row in json.loads(done.stdout)["taskspecs"]}


def test_chain_priority_is_the_longest_chain_of_dependents() -> None:
    seconds = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 10.0}
    found = chain_priorities({"b": ["a"], "c": ["b"], "d": []}, seconds)
    assert found == {"a": 6.0, "b": 5.0, "c": 3.0, "d": 10.0}
    line = {f"t{i}": 1.0 for i in range(3000)}  # deeper than Python's recursion limit
    chain = {f"t{i}": [f"t{i - 1}"] for i in range(1, 3000)}
    assert chain_priorities(chain, line)["t0"] == 3000.0


def test_plan_shows_the_chain_first(project: HatchProject) -> None:
    write_plan(project)
    rows = plan_rows(project)
    ranked = [tid for tid, _ in sorted(rows.items(), key=lambda r: r[1]["start_rank"])]
    # the chain's end has no more work after it than a side: plan order among them
    assert ranked == ["Z1", "Z2", "A1", "A2", "A3", "Z3"]
    side, head = rows["A1"], rows["Z1"]
    assert side["predicted_from"] == "default"
    assert head["priority_s"] == pytest.approx(3 * side["predicted_s"])
    shown = hatchdoit(project, "plan").stdout
    assert "start order: #1, priority" in shown


def test_chain_that_sorts_last_starts_first(project: HatchProject) -> None:
    """doit alone would start A1 and A2 (definition order) and put Z1's factory behind them."""
    project.configure(limits={"parallel_sessions": 2})
    write_plan(project, hold=1)
    build_ok(project, "-n", "2", timeout=180)
    factories = [e["taskspec_id"] for e in launches(project) if e["role"] == "factory"]
    # two slots: Z1 starts in the first pair (beside A1: which of the two launches first is a
    # race between doit's two workers), where doit's own order would start A1 and A2
    assert "Z1" in factories[:2] and factories.index("Z1") < factories.index("A2"), factories
    assert factories.index("Z2") < factories.index("A3"), factories


def _step(tid: str, step: str, start: datetime, seconds: float) -> list[dict[str, Any]]:
    """The audit trail's two events for one finished step (what actions.run_step writes)."""
    end = start + timedelta(seconds=seconds)
    return [
        {"ts": at.isoformat(), "event": kind, "taskspec_id": tid, "step": step, "attempt": 1}
        for kind, at in (("step_start", start), ("step_end", end))
    ]


def test_history_of_a_long_side_taskspec_puts_it_first(project: HatchProject) -> None:
    write_plan(project)
    assert plan_rows(project)["A2"]["start_rank"] == 4
    # A2's factory ran before (an attempt that was killed: not done) and took 40 minutes; A1's
    # and A3's took 10 s each
    start = datetime(2026, 1, 5, tzinfo=UTC)
    history = [
        event
        for tid, seconds in (("A1", 10), ("A2", 2400), ("A3", 10))
        for event in _step(tid, "factory", start, seconds)
    ]
    project.layout.logs.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(event) for event in history]
    project.layout.audit.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = plan_rows(project)
    assert rows["A2"]["start_rank"] == 1, rows
    assert rows["A2"]["predicted_from"] == "own"
    # the chain has no factory runs of its own: the profile's p50 (10 s) rules
    assert rows["Z1"]["predicted_from"] == "history"
    assert rows["Z1"]["start_rank"] == 2  # three of the p50 beat one, not A2's 2400 s
