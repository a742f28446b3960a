"""The bundled scripted agent as QA, driven for real on a pty: its verdict for each behaviour,
attempt and checks result; and its summaries and verdicts validate as hatchdoit's records.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from scripted_agent_pty import (
    DOCSTRING_REASON,
    RUN_TOKEN,
    TASK_ID,
    Agent,
    file_block,
    git_env,
    request,
    start_agent,
)

pytestmark = pytest.mark.integration

__all__ = ["git_env", "start_agent"]  # fixtures


CHECKS_OK = {"passed": True, "failures": []}
CHECKS_BAD = {"passed": False, "failures": ["tests failed (exit 1)", "LOC 90 over cap 40"]}


@pytest.mark.parametrize(
    ("behaviour", "attempt", "checks", "verdict", "reasons"),
    [
        ("approve", 1, CHECKS_OK, "approved", []),
        ("approve", 1, CHECKS_BAD, "rejected", CHECKS_BAD["failures"]),
        ("reject", 2, CHECKS_OK, "rejected", ["scripted QA rejects every attempt"]),
        ("reject-once", 1, CHECKS_OK, "rejected", [DOCSTRING_REASON]),
        ("reject-once", 2, CHECKS_OK, "approved", []),
        ("reject-once", 2, CHECKS_BAD, "rejected", CHECKS_BAD["failures"]),
    ],
)
def test_qa_verdicts(
    start_agent: Callable[..., Agent],
    behaviour: str,
    attempt: int,
    checks: dict[str, Any],
    verdict: str,
    reasons: list[str],
) -> None:
    agent = start_agent(role="qa", behaviour=behaviour, attempt=attempt)
    (agent.files / "checks.json").write_text(json.dumps(checks))
    payload = agent.ask(request("review", "Review the change."))
    record = agent.json_file("verdict.json")
    assert record["taskspec_id"] == TASK_ID and record["attempt"] == attempt
    assert (record["verdict"], record["reasons"]) == (verdict, reasons)
    if (behaviour, attempt) == ("reject-once", 1):
        assert record["feedback"] == "Add a docstring to each new public function."
    assert payload["session_id"] == f"scripted-{RUN_TOKEN}"


def test_outputs_validate_against_orchestrator_records(
    start_agent: Callable[..., Agent],
) -> None:
    records = pytest.importorskip("hatchdoit.records.models")
    factory = start_agent()
    factory.ask(request("implement", file_block("a.py", "x = 1\n")))
    records.SummaryRecord.model_validate(factory.json_file("summary.json"))
    qa = start_agent(role="qa", behaviour="reject-once")
    (qa.files / "checks.json").write_text(json.dumps(CHECKS_OK))
    qa.ask(request("review"))
    records.VerdictRecord.model_validate(qa.json_file("verdict.json"))
