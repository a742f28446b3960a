"""A TaskSpec that fails to load fails the build, as a broken makefile fails `make`: plain `doit`
says how many TaskSpecs were left out and exits non-zero, after building the valid ones, so a CI
job running `doit` cannot pass on a broken plan (build/graph.py, build/reporter.py)."""

from __future__ import annotations

import pytest
from conftest import run_doit
from projects import HatchProject

pytestmark = pytest.mark.integration


def add_broken(project: HatchProject, tid: str = "BROKEN") -> None:
    """A hatchdoit-format TaskSpec with no test_command (no planning.defaults configured) and a
    loc_cap of 0: invalid whatever defaults fill in."""
    path = project.planning / "_specs" / "taskspecs" / f"{tid}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\nid: {tid}\ntitle: Broken\nkind: taskspec\nfeatspec: {project.featspec}\n"
        "loc_cap: 0\ndepends_on: []\n---\nDo something.\n",
        encoding="utf-8",
    )


def test_a_plan_whose_only_taskspec_is_invalid_fails_the_build(project: HatchProject) -> None:
    add_broken(project)
    done = run_doit(project, timeout=60)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "BROKEN.md" in done.stderr  # the load error's own line
    assert "nothing to do" not in done.stdout
    said = done.stdout + done.stderr
    assert "1 spec(s) left out" in said, said
    assert "Traceback" not in said
    listed = run_doit(project, "list", timeout=60)
    assert listed.returncode == 0, listed.stderr  # listing a broken plan is not a build


def test_the_valid_taskspecs_build_first_then_the_build_fails(project: HatchProject) -> None:
    project.add_taskspec("GOOD")
    add_broken(project)
    done = run_doit(project, timeout=120)
    assert done.returncode != 0, done.stdout + done.stderr
    assert project.layout.done("GOOD").is_file(), done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "1 spec(s) left out" in said, said
    again = run_doit(project, timeout=60)  # nothing to build, still broken
    assert again.returncode != 0 and "1 spec(s) left out" in again.stdout + again.stderr
    (project.planning / "_specs" / "taskspecs" / "BROKEN.md").unlink()
    fixed = run_doit(project, timeout=60)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
