"""`hatchdoit doctor`'s check of the workspace environment (README: Your project's environment):
without `workspace.setup`, would the worktrees' tests import the main checkout's code (the
PATH's python has the target installed editable from it)?"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hatchdoit.cli.doctor_check import Check
from hatchdoit.core.errors import HatchdoitError
from hatchdoit.project import load_project
from hatchdoit.steps.shared_install import FIX, shared_install_problem


def check(root: Path, environ: Mapping[str, str]) -> list[Check]:
    """One check named `workspace`; none when the project does not load (check_project says
    why)."""
    try:
        project = load_project(root)
    except HatchdoitError:
        return []
    setup = project.config.workspace.setup
    if setup:
        return [Check("workspace", "ok", f"workspace.setup: {len(setup)} command(s) per worktree")]
    problem = shared_install_problem(project, environ)
    if problem is not None:
        return [Check("workspace", "warn", problem, FIX)]
    return [Check("workspace", "ok", "no workspace.setup; the worktrees share your environment")]
