"""Waiting is not failing (records/waiting.py, docs/ci.md "Waiting"): with `integrate: pr` and
`integration.dependents: wait`, a dependent whose dependency's pull request is still open waits
on a person. `hatchdoit ci` runs doit once, exits 4 with the list, writes `<skipped>` in JUnit,
sends no `build_failed`; `hatchdoit status` says what it waits for; once the pull request is
merged the next `hatchdoit ci` delivers it. The stand-in `gh` (tests/fake_gh.py) holds the PRs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_doit
from daily_use import add_notify, hatchdoit, notifications
from projects import HatchProject
from test_ci_mode import junit_cases
from test_integrate_pr import pr_project, prs

pytestmark = pytest.mark.integration
__all__ = ["pr_project"]


def test_a_dependent_waiting_for_its_dependency_s_pr_to_merge_is_waiting_not_failed(
    pr_project: HatchProject,
) -> None:
    project = pr_project
    project.configure(integration={"dependents": "wait"})
    sent = add_notify(project)
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    project.add_taskspec("C", depends_on=["B"])
    junit = project.root / "junit.xml"
    ci = hatchdoit(project, "ci", "--junit", str(junit), timeout=240)
    said = ci.stdout + ci.stderr
    assert ci.returncode == 4, said
    assert "doit run 2" not in ci.stdout, "nothing changes by running doit again"
    assert "hatchdoit ci: B waits for the pull request of A to merge" in ci.stdout, said
    assert "hatchdoit ci: 1 active, 1 awaiting merge, 1 done" in ci.stdout, said  # C: blocked
    suite, cases = junit_cases(junit)
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "2")
    assert cases["A"].find("skipped") is None and cases["A"].find("error") is None
    skipped = cases["B"].find("skipped")
    assert skipped is not None and cases["B"].find("error") is None
    assert skipped.get("message") == "waiting for the pull request of A to merge"
    assert skipped.get("type") == "awaiting merge"
    assert cases["C"].find("skipped") is not None  # not built: B did not finish
    assert "build_failed" not in [n["event"] for n in notifications(sent)]

    status = json.loads(hatchdoit(project, "status", "--json").stdout)
    rows = {row["taskspec_id"]: row for row in status["taskspecs"]}
    assert rows["B"]["state"] == "awaiting merge"
    assert rows["B"]["waiting"] == "waiting for the pull request of A to merge"
    assert status["totals"]["awaiting merge"] == 1
    table = hatchdoit(project, "status")
    assert "awaiting merge" in table.stdout and "pull request of A to merge" in table.stdout

    state = prs(project)
    state[0]["state"] = "MERGED"  # a person merged A's pull request on GitHub
    Path(project.env["FAKE_GH_STATE"]).write_text(json.dumps(state))
    again = hatchdoit(project, "ci", "--junit", str(junit), timeout=240)
    assert again.returncode == 4, again.stdout + again.stderr  # now C waits for B's
    assert "C waits for the pull request of B to merge" in again.stdout
    assert {p["head"] for p in prs(project)} == {"taskspec/A", "taskspec/B"}
    status = json.loads(hatchdoit(project, "status", "--json").stdout)
    assert [row["state"] for row in status["taskspecs"]] == ["done", "done", "awaiting merge"]
    assert "build_failed" not in [n["event"] for n in notifications(sent)]


def test_plain_doit_sends_no_build_failed_for_a_taskspec_that_waits(
    project: HatchProject,
) -> None:
    """The reporter's notice after a plain `doit`: a wait (W) is no failure, nor is a TaskSpec
    blocked only by one that waits; a failure beside them still is."""
    project.configure(review="after-qa")
    sent = add_notify(project)
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    held = run_doit(project, "--continue", timeout=120)
    assert held.returncode != 0
    lines = held.stdout.splitlines()
    assert any(line.startswith("W ") and "taskspec:A" in line for line in lines), held.stdout
    assert any(line.startswith("W ") and "taskspec:B" in line for line in lines), held.stdout
    assert "build_failed" not in [n["event"] for n in notifications(sent)]
    project.add_taskspec("BAD", scripted={"factory": ["fail-tests"]}, max_attempts=1)
    failed = run_doit(project, "--continue", timeout=120)
    assert failed.returncode != 0
    assert [n["event"] for n in notifications(sent)].count("build_failed") == 1
