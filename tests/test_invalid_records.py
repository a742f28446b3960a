"""A record a step reads that is cut short or edited by hand while the build runs (here the
worktree record, which the checks step measures the attempt's work from) fails that step with
one line naming the file and what to do, and an audited step_error: no traceback. Real doit, git
and the scripted agent."""

from __future__ import annotations

import pytest
from conftest import background_doit, doit_output, events, retry_until
from projects import HatchProject, module_body

pytestmark = pytest.mark.integration

TID = "T-REC-1"


def test_an_invalid_record_fails_its_step_with_one_line(project: HatchProject) -> None:
    # The factory holds for a while before it writes: the record is cut short meanwhile, after
    # the worktree step (which checks its own record) has run.
    body = module_body("m_rec", "f_rec") + "\n<!-- scripted:hold=2 -->\n"
    project.add_taskspec(TID, body, max_attempts=1)
    record = project.layout.worktree_record(TID)
    with background_doit(project) as build:
        retry_until(lambda: project.layout.launch_record(TID, "factory", 1).exists())
        record.write_text('{"taskspec_id": "T-REC-1", "base_co', encoding="utf-8")
        build.wait(timeout=120)
    output = doit_output(project, build)
    assert build.returncode != 0, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.startswith("hatchdoit: checks")]
    assert len(lines) == 1, output
    assert lines[0].startswith(f"hatchdoit: checks {TID} attempt 1: invalid record: {record}")
    assert "not valid JSON" in lines[0] and "move that file aside" in lines[0]
    errors = events(project, "step_error", step="checks")
    assert errors and errors[-1]["error"].startswith("invalid record: "), errors
