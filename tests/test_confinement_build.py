"""Confined builds with the scripted agent: a TaskSpec goes to done with its agents and its tests
run under srt, and the build records what confined it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from build_records import TID, build_ok
from confinement_support import need_srt
from conftest import read_audit
from daily_use import hatchdoit
from projects import HatchProject, module_body

from hatchdoit.confinement.srt import SRT_ENV
from hatchdoit.records.models import ChecksRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


def test_a_confined_build_reaches_done(project: HatchProject) -> None:
    project.env[SRT_ENV] = str(need_srt())
    project.configure(confinement={"mode": "auto"})
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    build_ok(project)
    record = json.loads(Path(project.layout.confinement_record).read_text(encoding="utf-8"))
    assert record["label"] == "confined", record
    launches = [e for e in read_audit(project) if e["event"] == "launch"]
    assert launches and all(e["confinement"] == "confined" for e in launches)
    checks = load_valid(project.layout.checks(TID, 1), ChecksRecord)
    assert checks.tests is not None and checks.tests.confinement == "confined"
    status = json.loads(hatchdoit(project, "status", "--json").stdout)
    assert status["build"]["confinement"] == "confined"
    report = project.root / "report.html"
    hatchdoit(project, "report", "--out", str(report))
    assert "confinement confined" in report.read_text(encoding="utf-8")


def test_post_merge_tests_run_confined(project: HatchProject) -> None:
    project.env[SRT_ENV] = str(need_srt())
    project.configure(
        confinement={"mode": "required"},
        integrate="merge",
        integration={"test_command": "python3 -m unittest discover -s tests -q"},
    )
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    build_ok(project)
    record = json.loads(project.layout.integration(TID).read_text(encoding="utf-8"))
    assert record["outcome"] == "integrated", record
    assert len(record["tests"]) == 2, record
    for run in record["tests"]:
        assert run["confinement"] == "confined" and run["exit_code"] == 0, run
