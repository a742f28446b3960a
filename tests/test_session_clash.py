"""A tmux session that no launch of this build made, under the name an attempt's agent session
takes: the launch stops with one line naming it and the fix, and leaves it running."""

from __future__ import annotations

import pytest
from conftest import run_doit
from projects import HatchProject

from hatchdoit.agents.tmux import session_name

pytestmark = pytest.mark.integration
TID = "T001-CLASH"


def test_a_session_not_made_by_this_build_is_left_alone(project: HatchProject) -> None:
    project.add_taskspec(TID, max_attempts=1)
    name = session_name(project.layout.tag, TID, "factory", 1)
    made = project.tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "sleep", "120")
    assert made.returncode == 0, made.stderr
    done = run_doit(project, timeout=120)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert f"tmux session {name} on socket {project.socket} was not made by this build" in said
    assert f"kill-session -t ={name}" in said, said  # the fix
    assert project.session_alive(name), said
    assert not project.layout.stop_file(TID, "factory", 1).exists()
