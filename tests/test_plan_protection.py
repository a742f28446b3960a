"""The planning repo is read-only for agents in fact: an agent that writes into it (the scripted
agent's `edit-plan`, what an agent told to "update the spec" does) fails to, the repo stays byte
for byte as it was, and the attempt's pane log says so. Where no mount namespace can be made the
agent gets read-only copies of its specs instead. A planning repo that goes away mid-build
pauses the launches until it is back. Real doit, git, tmux, unshare and the scripted agent."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import background_doit, doit_output, events, git, retry_until, run_doit, tree_hashes
from daily_use import hatchdoit
from projects import HatchProject, module_body

from hatchdoit.core.bundled import SCRIPTS
from hatchdoit.planning.mount import namespace_problem

pytestmark = pytest.mark.integration

TID = "T-PLAN-1"
NO_NAMESPACE = namespace_problem(SCRIPTS / "mount" / "readonly_view.sh")


def committed_plan(project: HatchProject) -> None:
    """The planning repo as a git repo with its specs committed (as a team keeps it)."""
    env = project.env
    git(project.planning, "init", "-q", "-b", "main", env=env)
    git(project.planning, "add", "-A", env=env)
    git(project.planning, "commit", "-q", "-m", "the plan", env=env)


def pane_log(project: HatchProject) -> str:
    return project.layout.pane_log(TID, "factory", 1).read_text(encoding="utf-8")


@pytest.mark.skipif(NO_NAMESPACE is not None, reason=f"no mount namespace: {NO_NAMESPACE}")
def test_an_agent_cannot_write_into_the_planning_repo(project: HatchProject) -> None:
    project.add_taskspec(TID, scripted={"factory": "edit-plan"})
    committed_plan(project)
    before = tree_hashes(project.planning)

    built = run_doit(project)
    assert built.returncode == 0, built.stdout + built.stderr
    assert tree_hashes(project.planning) == before
    assert git(project.planning, "status", "--porcelain", env=project.env) == ""
    log = pane_log(project)
    spec = project.planning.resolve() / "_specs" / "taskspecs" / f"{TID}.md"
    assert f"could not write into the plan: [Errno 30] Read-only file system: '{spec}'" in log
    assert "wrote into the plan" not in log
    (launch,) = events(project, "launch", role="factory")
    assert launch["plan"] == "namespace"
    recorded = project.layout.plan_record.read_text()
    assert git(project.planning, "rev-parse", "HEAD", env=project.env).strip() in recorded
    # hatchdoit itself, and everyone else, still sees the repo as it is: writable by its owner
    probe = project.planning / "probe"
    probe.write_text("x")
    probe.unlink()


def test_without_a_namespace_the_agent_gets_read_only_copies(project: HatchProject) -> None:
    project.configure(plan_protection="snapshot")
    project.add_taskspec(TID, scripted={"factory": "edit-plan"})
    committed_plan(project)
    before = tree_hashes(project.planning)

    built = run_doit(project)
    assert built.returncode == 0, built.stdout + built.stderr
    assert tree_hashes(project.planning) == before
    snapshot = project.layout.session_dir(TID, "factory", 1) / "plan"
    copy = snapshot / "_specs" / "taskspecs" / f"{TID}.md"
    feature = snapshot / "_specs" / "featspecs" / f"{project.featspec}.md"
    assert feature.is_file() and oct(feature.stat().st_mode & 0o777) == "0o444"
    log = pane_log(project)
    assert str(project.planning.resolve()) not in log  # pointed at the copies only
    if os.geteuid() == 0:  # root writes through 0444: into the copy, never the repo
        assert f"wrote into the plan: {copy}" in log
    else:
        assert f"could not write into the plan: [Errno 13] Permission denied: '{copy}'" in log
    (launch,) = events(project, "launch", role="factory")
    assert launch["plan"] == "snapshot"


def test_doctor_says_which_protection_is_in_force(project: HatchProject) -> None:
    checked = hatchdoit(project, "doctor")
    line = next(row for row in checked.stdout.splitlines() if "plan protection" in row)
    kind = "namespace" if NO_NAMESPACE is None else "snapshot"
    assert line.split("plan protection", 1)[1].strip().startswith(f"{kind}: "), line
    assert "planning commit" in checked.stdout and "not a git repo" in checked.stdout
    project.configure(plan_protection="snapshot")
    assert "snapshot: read-only copies" in hatchdoit(project, "doctor").stdout


def test_a_planning_repo_that_goes_away_pauses_the_launches(project: HatchProject) -> None:
    """The first TaskSpec's factory holds; meanwhile the planning repo is moved away (an
    unmounted share). The second TaskSpec's launch waits with one line, and goes on once the
    repo is back: both TaskSpecs are done, none was taken for deleted."""
    project.configure(limits={"parallel_sessions": 1})
    first = module_body("m_first", "f_first") + "\n<!-- scripted:hold=2 -->\n"
    project.add_taskspec("T-PLAN-A", first)
    project.add_taskspec("T-PLAN-B", depends_on=["T-PLAN-A"])
    away = project.planning.with_name("planning-unmounted")
    with background_doit(project) as build:
        retry_until(lambda: project.layout.launch_record("T-PLAN-A", "factory", 1).exists())
        shutil.move(project.planning, away)
        retry_until(lambda: "waiting for it" in doit_output(project, build), timeout=60)
        shutil.move(away, project.planning)
        build.wait(timeout=120)
    output = doit_output(project, build)
    assert build.returncode == 0, output
    gone = [line for line in output.splitlines() if "does not exist" in line]
    assert len(gone) == 1, output
    assert f"planning repo {project.planning} does not exist" in gone[0]
    assert "is back" in output
    assert events(project, "plan_missing") and events(project, "plan_back")
    for tid in ("T-PLAN-A", "T-PLAN-B"):
        assert project.layout.done(tid).is_file(), tid
