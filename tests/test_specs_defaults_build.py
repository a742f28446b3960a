"""A `_specs/` TaskSpec that names no test_command or loc_cap takes them from hatchdoit.yaml's
`planning.defaults` (planning/formats/hatchdoit.py): a real doit build with the scripted agent
runs the default command in its checks; a changed default reruns its chain, as an edited file
would; a TaskSpec's own value wins."""

from __future__ import annotations

import pytest
import yaml
from conftest import read_json, run_doit
from projects import TEST_COMMAND, HatchProject, module_body

pytestmark = pytest.mark.integration


def write_bare_taskspec(project: HatchProject, tid: str, **fields: object) -> None:
    """A TaskSpec file with neither test_command nor loc_cap (unless given)."""
    path = project.planning / "_specs" / "taskspecs" / f"{tid}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    front = {"id": tid, "title": f"TaskSpec {tid}", "kind": "taskspec"}
    front |= {"featspec": project.featspec, **fields}
    body = module_body(f"m_{tid.lower()}", f"f_{tid.lower()}")
    path.write_text(f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n{body}", encoding="utf-8")


def test_a_taskspec_without_test_command_is_built_with_the_default(
    project: HatchProject,
) -> None:
    default = f"{TEST_COMMAND} -v"
    project.configure(planning={"defaults": {"test_command": default, "loc_cap": 150}})
    write_bare_taskspec(project, "BARE")
    write_bare_taskspec(project, "OWN", test_command=TEST_COMMAND, loc_cap=90)
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = read_json(project.layout.checks("BARE", 1))
    assert checks["tests"]["command"] == default.split()
    assert checks["loc"]["cap"] == 150
    own = read_json(project.layout.checks("OWN", 1))
    assert own["tests"]["command"] == TEST_COMMAND.split() and own["loc"]["cap"] == 90
    assert "nothing to do" in run_doit(project).stdout

    # the default is an input of the TaskSpecs that took it, and of no other
    project.configure(planning={"defaults": {"test_command": TEST_COMMAND}})
    again = run_doit(project)
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = read_json(project.layout.done("BARE"))
    assert read_json(project.layout.checks("BARE", 1))["tests"]["command"] == TEST_COMMAND.split()
    assert rerun["taskspec_id"] == "BARE"
    assert "factory:BARE.1" in again.stdout and "factory:OWN" not in again.stdout, again.stdout
