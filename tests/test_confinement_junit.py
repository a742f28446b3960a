"""`hatchdoit ci`'s JUnit file says how each TaskSpec's agents and tests were confined: records
that no agent can forge hold only under confinement (README: What an agent can touch), so a CI
page must show a run that was not."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from build_records import TID
from confinement_support import need_srt
from daily_use import hatchdoit
from projects import HatchProject, module_body

from hatchdoit.confinement.srt import SRT_ENV

pytestmark = pytest.mark.integration


def _ci_case(project: HatchProject) -> tuple[ET.Element, ET.Element]:
    junit = project.root / "junit.xml"
    done = hatchdoit(project, "ci", "--junit", str(junit), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(junit).getroot().findall("testsuite")[0]
    (case,) = suite.findall("testcase")
    assert case.get("name") == TID and case.find("failure") is None
    return suite, case


def _properties(element: ET.Element) -> dict[str, str]:
    props = element.find("properties")
    assert props is not None and element[0] is props, "<properties> comes first"
    return {p.get("name", ""): p.get("value", "") for p in props.findall("property")}


def test_junit_says_a_taskspec_ran_unconfined(project: HatchProject) -> None:
    project.configure(confinement={"mode": "off"})
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    suite, case = _ci_case(project)
    assert _properties(suite) == {"confinement": "off"}
    assert _properties(case) == {"confinement": "off"}
    out = case.findtext("system-out") or ""
    first = out.splitlines()[0]
    assert first.startswith("ran unconfined (confinement: off in hatchdoit.yaml): "), out
    for run in ("factory attempt 1", "tests attempt 1", "qa attempt 1"):
        assert run in first, first


def test_junit_of_a_confined_build_says_confined(project: HatchProject) -> None:
    project.env[SRT_ENV] = str(need_srt())
    project.configure(confinement={"mode": "required"})
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    suite, case = _ci_case(project)
    assert _properties(suite) == {"confinement": "confined"}
    assert _properties(case) == {"confinement": "confined"}
    assert "unconfined" not in (case.findtext("system-out") or "")
