"""`hatchdoit validate` on the slips a new project makes: a planning repo path that holds no
TaskSpec (a warning, not a silent pass), and a target repo on a detached HEAD with no
`target.integration_branch` (one line with the fix, exit 2, not git's raw error). And `doctor`
on files an older `hatchdoit init` wrote."""

from __future__ import annotations

import pytest
from conftest import git
from daily_use import hatchdoit
from projects import HatchProject

from hatchdoit import __version__
from hatchdoit.core.errors import EXIT_CONFIG, EXIT_OK

pytestmark = pytest.mark.integration


def test_a_plan_with_no_taskspecs_is_a_warning(project: HatchProject) -> None:
    done = hatchdoit(project, "validate")
    assert done.returncode == EXIT_OK, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {project.planning}: no TaskSpecs found (fix: point `specs:` in "
        "hatchdoit.yaml, or HATCHDOIT_SPECS, at the planning repo's root)"
    ]


def test_a_detached_target_without_an_integration_branch_fails_with_the_fix(
    project: HatchProject,
) -> None:
    project.add_taskspec("T-DET-1")
    repo = project.root / "own-target"
    repo.mkdir()
    env = project.env
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "commit", "-q", "--allow-empty", "-m", "first", env=env)
    git(repo, "checkout", "-q", "--detach", env=env)
    project.configure(target={"repo": "own-target", "seed": None})
    done = hatchdoit(project, "validate")
    assert done.returncode == EXIT_CONFIG
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "detached HEAD" in lines[0] and "target.integration_branch" in lines[0]
    assert "(fix: set target.integration_branch in hatchdoit.yaml" in lines[0]
    assert "git exited" not in done.stderr
    project.configure(target={"integration_branch": "main"})
    assert hatchdoit(project, "validate").returncode == EXIT_OK


def test_doctor_compares_what_init_wrote_with_the_installed_version(
    project: HatchProject,
) -> None:
    config = project.root / "hatchdoit.yaml"
    config.write_text(
        "# hatchdoit configuration, written by hatchdoit init 0.0.1\n" + config.read_text()
    )
    doctor = hatchdoit(project, "doctor")
    line = next(row for row in doctor.stdout.splitlines() if "init hatchdoit.yaml" in row)
    assert line.startswith("WARN") and "written by hatchdoit init 0.0.1" in line, line
    assert f"hatchdoit {__version__} is installed" in line
    config.write_text(config.read_text().replace("init 0.0.1", f"init {__version__}"))
    assert "init hatchdoit.yaml" not in hatchdoit(project, "doctor").stdout
