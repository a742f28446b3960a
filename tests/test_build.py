"""Every behaviour of a TaskSpec build, through real `doit` runs in a temp project.

Real git, real tmux on a private socket, the bundled scripted agent; assertions are on the
artifacts the build leaves (hatchdoit/layout.py) and on `_logs/audit.jsonl`.
"""

from __future__ import annotations

import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    HatchProject,
    events,
    git,
    module_body,
    read_audit,
    read_json,
    read_log,
    run_doit,
    tree_hashes,
)

from hatchdoit.records import (
    ChecksRecord,
    DoneRecord,
    EscalatedRecord,
    LaunchRecord,
    Receipt,
    StopRecord,
    SummaryRecord,
    VerdictRecord,
    WorktreeRecord,
)
from hatchdoit.schemas import load_valid

pytestmark = pytest.mark.integration

TID = "T001-THING"


def build_ok(project: HatchProject, *args: str, timeout: float = 120) -> str:
    """Run doit and insist it succeeded; return its stdout."""
    done = run_doit(project, *args, timeout=timeout)
    assert done.returncode == 0, f"doit {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_fails(project: HatchProject, *args: str, timeout: float = 120) -> str:
    done = run_doit(project, *args, timeout=timeout)
    assert done.returncode != 0, f"doit {' '.join(args)} should fail:\n{done.stdout}"
    return done.stdout + done.stderr


def failure_lines(output: str) -> list[str]:
    """hatchdoit's own lines in a build's output, but for the closing TaskSpec count."""
    return [
        line
        for line in output.splitlines()
        if line.startswith("hatchdoit:") and " TaskSpec(s): " not in line
    ]


def assert_escalation_said_once(done: Any, tid: str, attempts: int, cause: str) -> str:
    """The build failed, and said so in exactly one `hatchdoit:` line that names the root cause
    (not doit's `<function run_step at 0x...>` nor a consequence such as `not run: ...`)."""
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "<function" not in output, output
    assert "TaskFailed" not in output, output
    lines = failure_lines(output)
    assert len(lines) == 1, output
    prefix = f"hatchdoit: taskspec {tid}: escalated after {attempts} attempt(s): {cause}"
    assert lines[0].startswith(prefix), lines[0]
    assert "not run:" not in lines[0] and f"_logs/state/{tid}/escalated.json" in lines[0]
    return lines[0]


def done_record(project: HatchProject, tid: str) -> DoneRecord:
    return load_valid(project.layout.done(tid), DoneRecord)


def escalated_record(project: HatchProject, tid: str) -> EscalatedRecord:
    return load_valid(project.layout.escalated(tid), EscalatedRecord)


def receipt_of(project: HatchProject, tid: str, step: str, attempt: int) -> Receipt:
    return load_valid(project.layout.receipt(tid, step, attempt), Receipt)


def stop_of(project: HatchProject, tid: str, role: str, attempt: int) -> StopRecord:
    return load_valid(project.layout.stop_file(tid, role, attempt), StopRecord)  # type: ignore[arg-type]


def launches(project: HatchProject, **match: Any) -> list[dict[str, Any]]:
    return events(project, "launch", **match)


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
# 3. QA rejects once


def test_reject_once_retries_with_qa_feedback_and_keeps_attempt_one(
    project: HatchProject,
) -> None:
    project.add_taskspec(TID, scripted={"qa": "reject-once"}, max_attempts=3)
    build_ok(project)
    layout = project.layout

    assert done_record(project, TID).attempt == 2
    assert [e["decision"] for e in events(project, "verdict")] == ["rejected", "approved"]

    prompt2 = layout.prompt(TID, "factory", 2).read_text(encoding="utf-8")
    assert "## QA feedback from attempt 1" in prompt2
    assert "Add a docstring to each new public function." in prompt2
    assert "## QA feedback" not in layout.prompt(TID, "factory", 1).read_text(encoding="utf-8")

    summary2 = load_valid(layout.summary(TID, 2), SummaryRecord)
    assert summary2.iteration == 2
    assert "addressed QA feedback" in summary2.handover_notes

    # Attempt 1's files are all still there, and say what attempt 1 did.
    assert load_valid(layout.verdict(TID, 1), VerdictRecord).verdict == "rejected"
    assert load_valid(layout.verdict(TID, 2), VerdictRecord).verdict == "approved"
    assert load_valid(layout.summary(TID, 1), SummaryRecord).iteration == 1
    assert load_valid(layout.checks(TID, 1), ChecksRecord).attempt == 1
    first, second = stop_of(project, TID, "factory", 1), stop_of(project, TID, "factory", 2)
    assert first.attempt == 1 and second.attempt == 2
    assert first.run_token != second.run_token
    for role in ("factory", "qa"):
        for k in (1, 2):
            assert layout.launch_record(TID, role, k).is_file()
            assert layout.prompt(TID, role, k).is_file()
    assert receipt_of(project, TID, "qa", 1).outcome == "failed"
    assert not layout.launch_record(TID, "factory", 3).exists()


# --------------------------------------------------------------------------------------------
# 4. tests fail on every attempt


def test_failing_tests_escalate_after_max_attempts(project: HatchProject) -> None:
    project.add_taskspec(TID, scripted={"factory": "fail-tests"}, max_attempts=2)
    first = run_doit(project)
    output = first.stdout + first.stderr
    line = assert_escalation_said_once(first, TID, 2, "tests failed (exit 1")
    layout = project.layout

    escalated = escalated_record(project, TID)
    assert escalated.attempts == 2
    assert not layout.done(TID).exists()
    assert any("tests failed" in reason for reason in escalated.reasons)
    assert TID in output

    checks = load_valid(layout.checks(TID, 1), ChecksRecord)
    assert not checks.passed
    assert any("tests failed" in failure for failure in checks.failures)
    assert checks.tests is not None and checks.tests.failed and checks.tests.failed >= 1
    assert len(launches(project, role="factory")) == 2
    assert len(events(project, "escalated")) == 1

    critical = [
        line
        for line in read_log(project, "orchestrator")
        if line["level"] == "CRITICAL" and line.get("taskspec_id") == TID
    ]
    assert critical and "escalated" in critical[0]["msg"]
    assert read_json(layout.current_state)["taskspecs"][TID]["status"] == "escalated"

    # A rerun launches no agent and still fails, quickly, with the same one line; the escalation
    # is on record already, so nothing new is logged, audited or written.
    before = len(launches(project))
    audit_before = read_audit(project)
    logs_before = {c: read_log(project, c) for c in ("orchestrator", "errors")}
    escalated_before = layout.escalated(TID).read_bytes()
    started = time.monotonic()
    again = run_doit(project)
    assert time.monotonic() - started < 15
    assert assert_escalation_said_once(again, TID, 2, "tests failed (exit 1") == line
    assert len(launches(project)) == before
    assert read_audit(project) == audit_before
    assert {c: read_log(project, c) for c in ("orchestrator", "errors")} == logs_before
    assert layout.escalated(TID).read_bytes() == escalated_before


# --------------------------------------------------------------------------------------------
# 5. tests fail, then the retry succeeds


def test_failed_checks_reach_the_next_attempt_which_succeeds(project: HatchProject) -> None:
    project.add_taskspec(TID, scripted={"factory": ["fail-tests", "succeed"]}, max_attempts=3)
    run_doit(project)
    layout = project.layout

    checks1 = load_valid(layout.checks(TID, 1), ChecksRecord)
    assert not checks1.passed
    prompt2 = layout.prompt(TID, "factory", 2).read_text(encoding="utf-8")
    assert "## QA feedback from attempt 1" in prompt2
    assert "tests failed" in prompt2
    assert done_record(project, TID).attempt == 2, (
        f"checks of attempt 2: {read_json(layout.checks(TID, 2))['failures']}"
    )


# --------------------------------------------------------------------------------------------
# 6. LOC cap


def test_exceeding_the_loc_cap_fails_the_checks(project: HatchProject) -> None:
    project.add_taskspec(TID, scripted={"factory": "exceed-loc"}, loc_cap=40, max_attempts=1)
    build_fails(project)

    checks = load_valid(project.layout.checks(TID, 1), ChecksRecord)
    assert not checks.passed
    assert any(f.startswith("LOC cap exceeded") for f in checks.failures), checks.failures
    assert checks.loc is not None and checks.loc.added > 40 and checks.loc.cap == 40
    assert checks.tests is not None and checks.tests.exit_code == 0  # only the cap failed
    assert escalated_record(project, TID).attempts == 1
    assert events(project, "verdict")[0]["decision"] == "rejected"


# --------------------------------------------------------------------------------------------
# 7.-8. summaries


def test_missing_summary_is_requested_by_injection(project: HatchProject) -> None:
    project.add_taskspec(TID, scripted={"factory": "skip-summary"}, max_attempts=1)
    result = run_doit(project)
    layout = project.layout

    injected = events(project, "summary_injected")
    assert len(injected) == 1 and injected[0]["attempt"] == 1
    assert layout.prompt(TID, "factory", 1, name="summary-request-1").is_file()
    summary = load_valid(layout.summary(TID, 1), SummaryRecord)
    assert summary.taskspec_id == TID and summary.iteration == 1
    assert receipt_of(project, TID, "summary", 1).data.get("injections") == 1
    assert receipt_of(project, TID, "factory", 1).outcome == "ok"
    checks = load_valid(layout.checks(TID, 1), ChecksRecord)
    assert checks.passed, checks.failures
    assert done_record(project, TID).attempt == 1
    assert result.returncode == 0
    # The injected prompt went to the same session: one factory launch only.
    assert len(launches(project, role="factory")) == 1


@pytest.mark.parametrize("behaviour", ["malformed-summary", "never-summary"])
def test_bad_summary_fails_the_attempt_and_escalates(project: HatchProject, behaviour: str) -> None:
    project.add_taskspec(TID, scripted={"factory": behaviour}, max_attempts=1)
    build_fails(project)
    layout = project.layout

    summary = receipt_of(project, TID, "summary", 1)
    assert summary.outcome == "failed"
    assert any("summary invalid" in reason for reason in summary.reasons), summary.reasons
    # Bounded injections (limits.summary_injections = 2), each with its own prompt file.
    assert len(events(project, "summary_injected")) == 2
    assert layout.prompt(TID, "factory", 1, name="summary-request-2").is_file()
    assert escalated_record(project, TID).attempts == 1
    assert not layout.done(TID).exists()
    # A failed summary is a fault: QA is not asked.
    assert launches(project, role="qa") == []


# --------------------------------------------------------------------------------------------
# 9.-10. faults of the agent process


def test_crashing_agent_is_a_crashed_stop(project: HatchProject) -> None:
    project.add_taskspec(TID, scripted={"factory": "crash"}, max_attempts=1)
    build_fails(project)

    stop = stop_of(project, TID, "factory", 1)
    assert stop.source == "orchestrator" and stop.event == "crashed"
    assert receipt_of(project, TID, "factory", 1).outcome == "failed"
    assert escalated_record(project, TID).attempts == 1
    assert launches(project, role="qa") == []


def test_hung_agent_is_ended_by_the_idle_limit(project: HatchProject) -> None:
    project.configure(limits={"factory": {"idle_timeout": 2, "wall_timeout": 20}})
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=1)
    started = time.monotonic()
    done = run_doit(project, timeout=60)
    assert time.monotonic() - started < 30
    cause = "factory idle: no pane output for 2s"
    assert_escalation_said_once(done, TID, 1, cause)
    assert cause in escalated_record(project, TID).reasons[0]

    stop = stop_of(project, TID, "factory", 1)
    assert stop.source == "orchestrator" and stop.event in ("idle", "timeout")
    screen = project.layout.screen_capture(TID, "factory", 1)
    assert screen.is_file()
    assert "behaviour hang" in screen.read_text(encoding="utf-8", errors="replace")
    session = load_valid(project.layout.launch_record(TID, "factory", 1), LaunchRecord).session
    assert not project.session_alive(session)
    assert escalated_record(project, TID).attempts == 1


# --------------------------------------------------------------------------------------------
# 11. editing a TaskSpec


def test_editing_a_taskspec_reruns_its_chain_only(project: HatchProject) -> None:
    path_a = project.add_taskspec("A", body=module_body("alpha", "alpha", "a"))
    project.add_taskspec("B", body=module_body("beta", "beta", "b"), depends_on=["A"])
    project.add_taskspec("C", body=module_body("gamma", "gamma", "c"))
    build_ok(project)
    first = {tid: done_record(project, tid) for tid in "ABC"}
    before = {tid: len(launches(project, taskspec_id=tid)) for tid in "ABC"}
    assert before == {"A": 2, "B": 2, "C": 2}

    path_a.write_text(
        path_a.read_text(encoding="utf-8") + "\nAlso mind the edge cases.\n", encoding="utf-8"
    )
    build_ok(project)

    after = {tid: len(launches(project, taskspec_id=tid)) for tid in "ABC"}
    assert after["A"] > before["A"], "edited TaskSpec was not rebuilt"
    assert after["B"] > before["B"], "dependent of the edited TaskSpec was not rebuilt"
    assert after["C"] == before["C"], "an unchanged TaskSpec was rebuilt"
    second = {tid: done_record(project, tid) for tid in "ABC"}
    assert second["A"].digest != first["A"].digest
    assert second["B"].digest != first["B"].digest
    assert second["C"] == first["C"]

    before = after
    build_ok(project)
    assert {tid: len(launches(project, taskspec_id=tid)) for tid in "ABC"} == before


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
    stale = project.layout.stop_file(TID, "factory", 1)
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


def test_escalation_ends_in_one_clear_line(project: HatchProject) -> None:
    project.add_taskspec(TID, scripted={"factory": "crash"}, max_attempts=1)
    done = run_doit(project)
    line = assert_escalation_said_once(done, TID, 1, "factory crashed: ")
    assert done.stderr.strip().splitlines()[-1] == line, "the build ends with its failure"
    assert events(project, "step_error", step="taskspec")
    assert any(
        line["level"] == "ERROR" and line.get("taskspec_id") == TID and "escalated" in line["msg"]
        for line in read_log(project, "orchestrator")
    )
