"""One output directory per agent run (`_logs/runs/<ID>/<role>-00k/`, steps/run_output.py): the
agent's summary or verdict, stop file and hook log land there, and hatchdoit takes validated
copies into place; a bad summary is refused with one line; a link, a FIFO or an oversized file
is never read; a stop file that is not this run's is never taken."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from build_records import TID, build_ok, receipt_of
from conftest import events, read_json, run_doit
from projects import HatchProject

from hatchdoit.project import load_project
from hatchdoit.run.context import StepContext
from hatchdoit.steps.run_output import OutputRefused, collect_handover, collect_stop, read_output

pytestmark = pytest.mark.integration


def test_the_agents_outputs_are_validated_and_taken_into_place(project: HatchProject) -> None:
    project.add_taskspec(TID)
    build_ok(project)
    layout = project.layout
    for role, taken in (("factory", layout.summary(TID, 1)), ("qa", layout.verdict(TID, 1))):
        out = layout.run_output(TID, role, 1)  # type: ignore[arg-type]
        written = layout.run_handover(TID, role, 1)  # type: ignore[arg-type]
        assert taken.read_bytes() == written.read_bytes()
        assert read_json(layout.stop_file(TID, role, 1)) == read_json(out / "stop.json")  # type: ignore[arg-type]
        names = {p.name for p in out.iterdir()}
        assert {"stop.json", written.name, "hooks.jsonl", "ready", "submitted"} <= names
        assert [e["role"] for e in events(project, "output_taken", role=role)] == [role]
        assert events(project, "agent_stop", role=role), "hatchdoit audits the stop it took"
    # what the agents were told to write is in their run's directory, not hatchdoit's
    prompt = layout.prompt(TID, "factory", 1).read_text(encoding="utf-8")
    assert str(layout.run_handover(TID, "factory", 1)) in prompt
    assert str(layout.summary(TID, 1)) not in prompt


def test_a_malformed_summary_is_refused_with_one_line(project: HatchProject) -> None:
    project.configure(limits={"summary_injections": 0})
    project.add_taskspec(TID, max_attempts=1, scripted={"factory": "malformed-summary"})
    done = run_doit(project)
    assert done.returncode == 1, done.stdout + done.stderr
    summary = receipt_of(project, TID, "summary", 1)
    assert summary.outcome == "failed" and len(summary.reasons) == 1
    out = project.layout.run_handover(TID, "factory", 1)
    assert f"{out}: not valid JSON" in summary.reasons[0], summary.reasons
    assert not project.layout.summary(TID, 1).exists(), "a refused summary is not taken"


def test_links_fifos_and_oversized_files_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("-----BEGIN KEY-----\n")
    link = tmp_path / "summary.json"
    link.symlink_to(secret)
    with pytest.raises(OutputRefused, match="not a regular file"):
        read_output(link)
    fifo = tmp_path / "stop.json"
    os.mkfifo(fifo)
    with pytest.raises(OutputRefused, match="not a regular file"):
        read_output(fifo)  # returns at once: never blocks on a FIFO
    big = tmp_path / "verdict.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(OutputRefused, match="more than the 1024"):
        read_output(big, limit=1024)
    assert read_output(big, limit=4096) == b" " * 2048


def test_only_this_runs_stop_is_taken(project: HatchProject) -> None:
    project.add_taskspec(TID)
    ctx = StepContext(load_project(project.root), TID)
    layout = ctx.layout
    out = layout.run_stop(TID, "factory", 1)
    out.parent.mkdir(parents=True)
    good = {
        "run_token": "tok",
        "taskspec_id": TID,
        "role": "factory",
        "attempt": 1,
        "event": "stop",
        "source": "hook",
        "seq": 1,
    }
    for wrong in (
        {"run_token": "other"},
        {"attempt": 2},
        {"taskspec_id": "ELSE"},
        {"source": "orchestrator"},
    ):
        out.write_text(json.dumps({**good, **wrong}))
        assert collect_stop(ctx, "factory", 1, "tok") is None, wrong
        assert not layout.stop_file(TID, "factory", 1).exists()
    out.write_text(json.dumps(good))
    taken = collect_stop(ctx, "factory", 1, "tok")
    assert taken is not None and taken.seq == 1
    assert read_json(layout.stop_file(TID, "factory", 1))["run_token"] == "tok"
    # an older seq written later does not replace the stop taken
    out.write_text(json.dumps({**good, "seq": 1, "reason": "again"}))
    assert collect_stop(ctx, "factory", 1, "tok").reason == ""  # type: ignore[union-attr]
    # a summary naming another attempt is refused, with the file it is about
    handover = layout.run_handover(TID, "factory", 1)
    handover.write_text(
        json.dumps(
            {
                "taskspec_id": TID,
                "agent_type": "factory",
                "iteration": 2,
                "status": "completed",
                "implementation_files": [],
                "test_results": {"passed": 0, "failed": 0},
                "loc_analysis": {"actual": 0, "cap": 10},
                "next_steps": [],
                "handover_notes": "",
            }
        )
    )
    problem = collect_handover(ctx, "factory", 1)
    assert problem is not None and str(handover) in problem and "attempt 2" in problem, problem
    assert not layout.summary(TID, 1).exists()
