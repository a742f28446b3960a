"""A TaskSpec build that goes right, through real `doit` runs in a temp project: every artifact
of a successful build, a no-op second run, dependencies built first and merged into the
dependent's base, an edit rebuilding only its chain, the planning repo left byte-identical, a
stale stop file ignored, and the test project's isolation.

Real git, real tmux on a private socket, the bundled scripted agent; assertions are on the
artifacts the build leaves (hatchdoit/layout.py) and on `_logs/audit.jsonl`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from build_records import TID, build_ok, done_record, launches, receipt_of, stop_of
from conftest import events, git, read_audit, read_json, read_log, tree_hashes
from projects import HatchProject, module_body

from hatchdoit.records.models import (
    ChecksRecord,
    LaunchRecord,
    StopRecord,
    SummaryRecord,
    VerdictRecord,
    WorktreeRecord,
)
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


def position(project: HatchProject, predicate: Any) -> int:
    """Index of the first audit event satisfying `predicate`."""
    for index, event in enumerate(read_audit(project)):
        if predicate(event):
            return index
    raise AssertionError("no such audit event")


# --------------------------------------------------------------------------------------------
# 1. succeed


def test_succeed_builds_every_artifact_and_second_run_is_a_noop(project: HatchProject) -> None:
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    build_ok(project)
    layout = project.layout

    done = done_record(project, TID)
    assert done.attempt == 1
    assert done.branch == f"taskspec/{TID}"

    steps = [("worktree", 0), ("factory", 1), ("summary", 1), ("checks", 1), ("qa", 1)]
    for step, attempt in steps:
        assert receipt_of(project, TID, step, attempt).outcome == "ok", step

    launch = load_valid(layout.launch_record(TID, "factory", 1), LaunchRecord)
    stop = stop_of(project, TID, "factory", 1)
    assert stop.source == "hook" and stop.event == "stop"
    assert stop.run_token == launch.run_token

    summary = load_valid(layout.summary(TID, 1), SummaryRecord)
    assert summary.taskspec_id == TID and summary.iteration == 1
    assert summary.agent_type == "factory" and summary.status == "completed"
    assert "src/app/greet.py" in summary.implementation_files

    checks = load_valid(layout.checks(TID, 1), ChecksRecord)
    assert checks.passed and checks.failures == []
    assert checks.tests is not None and checks.tests.exit_code == 0
    assert checks.tests.passed is not None and checks.tests.passed > 0
    assert checks.tests.failed == 0
    assert checks.loc is not None and checks.loc.added > 0
    assert checks.loc.cap == 200
    assert "src/app/greet.py" in checks.loc.files

    verdict = load_valid(layout.verdict(TID, 1), VerdictRecord)
    assert verdict.verdict == "approved" and verdict.attempt == 1
    assert [e["decision"] for e in events(project, "verdict")] == ["approved"]

    worktree = layout.worktree(TID)
    assert git(worktree, "symbolic-ref", "--short", "HEAD").strip() == f"taskspec/{TID}"
    assert (worktree / "src" / "app" / "greet.py").is_file()
    assert f"scripted factory: {TID} attempt 1" in git(worktree, "log", "--format=%s")
    assert git(worktree, "rev-parse", "HEAD").strip() == done.commit
    wt_record = load_valid(layout.worktree_record(TID), WorktreeRecord)
    assert wt_record.branch == f"taskspec/{TID}"
    assert git(worktree, "merge-base", "--is-ancestor", wt_record.base_commit, "HEAD") == ""

    state = read_json(layout.current_state)
    assert state["taskspecs"][TID]["status"] == "done"
    assert state["featspecs"][project.featspec]["status"] == "done"

    assert [e["role"] for e in launches(project)] == ["factory", "qa"]
    assert len(events(project, "done")) == 1
    for component in ("orchestrator", "factory", "qa"):
        lines = read_log(project, component)
        assert any(line.get("taskspec_id") == TID for line in lines), component
        assert all(line["level"] in ("INFO", "DEBUG") for line in lines), lines
    assert read_log(project, "errors") == []

    # A second run launches nothing and says so: the TaskSpec is up to date, and one closing line.
    before = len(launches(project))
    started = time.monotonic()
    out = build_ok(project)
    assert time.monotonic() - started < 15
    assert len(launches(project)) == before
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines == [f"-- taskspec:{TID}", "hatchdoit: 1 TaskSpec(s): 1 done; nothing to do"], out

    listing = build_ok(project, "list", "--all", "--status")
    assert f"taskspec:{TID}" in listing
    assert not [line for line in listing.splitlines() if line.startswith("R ")], listing


# --------------------------------------------------------------------------------------------
# 2. dependencies


def test_dependency_is_built_first_and_merged_into_the_dependent_base(
    project: HatchProject,
) -> None:
    project.add_taskspec("A", body=module_body("alpha", "alpha", "a"))
    project.add_taskspec("B", body=module_body("beta", "beta", "b"), depends_on=["A"])

    build_ok(project, "taskspec:B")  # B alone pulls in A

    done_a, done_b = done_record(project, "A"), done_record(project, "B")
    wt_b = project.layout.worktree("B")
    assert (wt_b / "src" / "app" / "alpha.py").is_file()
    assert (wt_b / "src" / "app" / "beta.py").is_file()
    git(wt_b, "merge-base", "--is-ancestor", done_a.commit, done_b.commit)
    record = load_valid(project.layout.worktree_record("B"), WorktreeRecord)
    assert record.merged_dependencies == ["taskspec/A"]

    a_done = position(project, lambda e: e["event"] == "done" and e["taskspec_id"] == "A")
    b_start = position(project, lambda e: e["taskspec_id"] == "B")
    assert a_done < b_start, "B started before A was done"

    # B's LOC is measured against a base that already contains A's work.
    checks_b = load_valid(project.layout.checks("B", 1), ChecksRecord)
    assert checks_b.loc is not None
    assert "src/app/alpha.py" not in checks_b.loc.files


# --------------------------------------------------------------------------------------------
# 11. editing a TaskSpec


def test_editing_a_taskspec_reruns_its_chain_only(project: HatchProject) -> None:
    """Make semantics: an edited TaskSpec rebuilds; its dependents rebuild when its approved
    commit changes (what they build on), and not when the rebuild left the same work."""
    path_a = project.add_taskspec("A", body=module_body("alpha", "alpha", "a"))
    project.add_taskspec("B", body=module_body("beta", "beta", "b"), depends_on=["A"])
    project.add_taskspec("C", body=module_body("gamma", "gamma", "c"))
    build_ok(project)
    first = {tid: done_record(project, tid) for tid in "ABC"}
    before = {tid: len(launches(project, taskspec_id=tid)) for tid in "ABC"}
    assert before == {"A": 2, "B": 2, "C": 2}

    # prose only: A runs again and commits nothing new, so B's input is unchanged
    path_a.write_text(
        path_a.read_text(encoding="utf-8") + "\nAlso mind the edge cases.\n", encoding="utf-8"
    )
    build_ok(project)
    after = {tid: len(launches(project, taskspec_id=tid)) for tid in "ABC"}
    assert after["A"] > before["A"], "edited TaskSpec was not rebuilt"
    assert after["B"] == before["B"], "the dependency's work did not change"
    second = {tid: done_record(project, tid) for tid in "ABC"}
    assert second["A"].digest != first["A"].digest
    assert second["A"].commit == first["A"].commit
    assert second["B"] == first["B"] and second["C"] == first["C"]

    # new work: A's approved commit changes, and B rebuilds on it
    path_a.write_text(path_a.read_text(encoding="utf-8").replace("'a'", "'a2'"), encoding="utf-8")
    before = after
    build_ok(project)
    after = {tid: len(launches(project, taskspec_id=tid)) for tid in "ABC"}
    assert after["A"] > before["A"], "edited TaskSpec was not rebuilt"
    assert after["B"] > before["B"], "dependent of the changed TaskSpec was not rebuilt"
    assert after["C"] == before["C"], "an unchanged TaskSpec was rebuilt"
    third = {tid: done_record(project, tid) for tid in "ABC"}
    assert third["A"].commit != second["A"].commit
    assert third["B"].digest != second["B"].digest
    assert third["C"] == first["C"]
    wt_b = project.layout.worktree("B")
    assert "'a2'" in (wt_b / "src" / "app" / "alpha.py").read_text(encoding="utf-8")

    before = after
    build_ok(project)
    assert {tid: len(launches(project, taskspec_id=tid)) for tid in "ABC"} == before


# --------------------------------------------------------------------------------------------
# 13. the planning repo is read-only input


def test_planning_repo_stays_byte_identical(project: HatchProject) -> None:
    project.add_taskspec("A", scripted={"qa": "reject-once"})
    project.add_taskspec("B", depends_on=["A"])
    before = tree_hashes(project.planning)
    build_ok(project)
    assert done_record(project, "B").attempt == 1
    assert tree_hashes(project.planning) == before


# --------------------------------------------------------------------------------------------
# 14. stale stop files


def test_stop_file_with_a_wrong_token_is_ignored(project: HatchProject) -> None:
    project.add_taskspec(TID)
    stale = project.layout.run_stop(TID, "factory", 1)  # where the agent writes its stop
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale_record = StopRecord(
        run_token="stale-token-from-another-run",
        taskspec_id=TID,
        role="factory",
        attempt=1,
        event="stop",
        source="hook",
    )
    stale.write_text(stale_record.model_dump_json(), encoding="utf-8")

    build_ok(project)

    launch = load_valid(project.layout.launch_record(TID, "factory", 1), LaunchRecord)
    stop = stop_of(project, TID, "factory", 1)
    assert stop.run_token == launch.run_token != stale_record.run_token
    assert stop.source == "hook"
    warnings = [
        line
        for line in read_log(project, "hooks")
        if line["level"] == "WARN" and "run token" in line["msg"]
    ]
    assert warnings and warnings[0].get("taskspec_id") == TID
    assert done_record(project, TID).attempt == 1


def test_fixture_isolation(project: HatchProject, tmp_path: Path) -> None:
    """The project lives in tmp_path and has its own socket and HOME."""
    assert project.root.is_relative_to(tmp_path)
    assert project.env["HOME"].startswith(str(tmp_path))
    assert not any(k.startswith("HATCHDOIT_") for k in project.env)
    assert project.env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert Path(project.env["TMUX_TMPDIR"]).is_dir()
    assert project.socket in (project.root / "hatchdoit.yaml").read_text(encoding="utf-8")
