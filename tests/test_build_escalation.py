"""A TaskSpec attempt that goes wrong, through real `doit` runs in a temp project: QA rejection
and failed checks retried with the feedback, the LOC cap, a missing summary requested by
injection and a bad one failing the attempt, crashed and hung agents, and escalation after the
last attempt, said in one clear line.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from build_records import (
    TID,
    build_ok,
    done_record,
    escalated_record,
    launches,
    receipt_of,
    stop_of,
)
from conftest import events, read_audit, read_json, read_log, run_doit
from projects import HatchProject

from hatchdoit.records.models import ChecksRecord, LaunchRecord, SummaryRecord, VerdictRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


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
