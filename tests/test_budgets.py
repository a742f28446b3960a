"""Spend caps (README "Budgets") through whole builds with the bundled scripted agent, whose every
run reports what it cost (SCRIPTED_COST_USD, as Claude Code reports `total_cost_usd`). The
real CLIs under a cap are in test_provider_faults.py. Real doit, tmux, git."""

from __future__ import annotations

import pytest
from conftest import events, run_doit
from daily_use import hatchdoit
from projects import HatchProject

from hatchdoit.records.models import BudgetRecord, DoneRecord, EscalatedRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


def costing(project: HatchProject, usd: float) -> None:
    project.env["SCRIPTED_COST_USD"] = str(usd)


def test_a_spent_build_budget_stops_launching_with_one_line_and_escalates_nothing(
    project: HatchProject,
) -> None:
    """Each run costs $0.02: T-B1's two runs leave $0.01 of the $0.05 and T-B2's factory run
    crosses it; T-B2's QA is not launched, nor anything after; raising the cap goes on."""
    costing(project, 0.02)
    project.configure(budgets={"build_usd": 0.05})
    tids = ["T-B1", "T-B2", "T-B3"]
    for tid in tids:
        project.add_taskspec(tid)
    stopped = run_doit(project, "taskspec:T-B1", "taskspec:T-B2", "taskspec:T-B3")
    assert stopped.returncode != 0, stopped.stdout + stopped.stderr
    lines = [x for x in stopped.stderr.splitlines() if "the build's budget is spent" in x]
    assert len(lines) == 1, stopped.stderr
    assert "$0.06 of $0.05; no agent is launched" in lines[0]
    assert "budgets.build_usd" in lines[0]
    assert load_valid(project.layout.done("T-B1"), DoneRecord).attempt == 1
    for tid in tids:
        assert not project.layout.escalated(tid).exists(), tid
    assert not project.layout.done("T-B3").exists()
    assert [e["taskspec_id"] for e in events(project, "launch")].count("T-B2") == 1

    project.configure(budgets={"build_usd": 1.0})
    again = run_doit(project, "taskspec:T-B1", "taskspec:T-B2", "taskspec:T-B3")
    assert again.returncode == 0, again.stdout + again.stderr
    for tid in tids:
        assert load_valid(project.layout.done(tid), DoneRecord).attempt == 1, tid


def test_a_taskspec_over_its_budget_escalates_with_cause_budget_and_retry_grants_more(
    project: HatchProject,
) -> None:
    """QA rejects attempt 1 once; its two runs ($0.02 each) cross the TaskSpec's $0.03, so
    attempt 2 does not run although max_attempts allows it. `retry` without --budget-usd grants
    another budgets.taskspec_usd, and attempt 2 is approved."""
    costing(project, 0.02)
    project.configure(budgets={"taskspec_usd": 0.03})
    tid = "T-CAP"
    project.add_taskspec(tid, max_attempts=3, scripted={"qa": "reject-once"})
    built = run_doit(project)
    assert built.returncode != 0, built.stdout + built.stderr
    spent = load_valid(project.layout.budget(tid), BudgetRecord)
    assert (spent.scope, spent.attempt, spent.cap_usd) == ("taskspec", 1, 0.03)
    assert spent.spent_usd == pytest.approx(0.04)
    escalated = load_valid(project.layout.escalated(tid), EscalatedRecord)
    assert escalated.reasons[-1] == "budget: the TaskSpec spent $0.04 of its $0.03"
    assert events(project, "escalated")[-1]["cause"] == "budget"
    assert not project.layout.receipt(tid, "factory", 2).exists()
    assert "hatchdoit retry T-CAP --budget-usd N" in built.stderr

    granted = hatchdoit(project, "retry", tid, "--json")
    assert granted.returncode == 0, granted.stderr
    assert '"budget_usd": 0.03' in granted.stdout
    again = run_doit(project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert load_valid(project.layout.done(tid), DoneRecord).attempt == 2
