"""Each TaskSpec's worktree is a working environment of its own (README: Your project's
environment), shown on real projects built by real `doit` runs with the scripted agent, offline:

- a `src/`-layout package installed editable in the user's active virtualenv: the setup makes
  the worktree's own `.venv`, the checks import the worktree's code, and the TaskSpec is done
  at attempt 1; `workspace.copy`'s `.env` is in the worktree and, like `.venv`, in no commit;
- a Node project whose dependency is a local `file:` package, and a TaskSpec adding one of its
  own (package.json and lockfile in its commit): the setup runs again on that commit before
  its checks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from build_records import build_ok, done_record, launches
from conftest import events, git, run_doit
from daily_use import hatchdoit
from projects import HatchProject
from workspace_projects import (
    MYLIB_DOUBLE,
    PYTHON_SETUP,
    PYTHON_TESTS,
    TEST_DOUBLE,
    committed_paths,
    fenced,
    node_project,
    python_project,
)

from hatchdoit.records.schemas import load_valid
from hatchdoit.records.setup_record import SetupRecord

pytestmark = pytest.mark.integration
TID = "T-DOUBLE"


def test_python_worktree_tests_its_own_code_and_keeps_env_and_venv_out_of_commits(
    project: HatchProject, tmp_path: Path
) -> None:
    repo = python_project(project, tmp_path)
    seen = tmp_path / "sessions"
    project.env["SCRIPTED_RECORD_ENV"] = str(seen)  # the agents record PATH and VIRTUAL_ENV
    (repo / ".env").write_text("API_TOKEN=local-secret\n", encoding="utf-8")  # never committed
    project.configure(
        target={"repo": "_target"}, workspace={"setup": PYTHON_SETUP, "copy": [".env"]}
    )
    body = "Add `mylib.double(x)` and its test.\n\n" + fenced(
        {"src/mylib/__init__.py": MYLIB_DOUBLE, "tests/test_double.py": TEST_DOUBLE}
    )
    # no-commit: hatchdoit commits what the agent left, and that must leave .env and .venv out
    project.add_taskspec(
        TID, body=body, test_command=PYTHON_TESTS, scripted={"factory": "no-commit"}
    )

    build_ok(project, timeout=240)

    done = done_record(project, TID)
    assert done.attempt == 1, "the worktree's tests did not see the worktree's code"
    worktree = project.layout.worktree(TID)
    assert (worktree / ".venv" / "pyvenv.cfg").is_file()
    assert (worktree / ".env").read_text(encoding="utf-8") == "API_TOKEN=local-secret\n"
    setup = load_valid(project.layout.state_dir(TID) / "setup.json", SetupRecord)
    assert setup.passed and setup.attempt == 0 and len(setup.runs) == 2
    paths = committed_paths(worktree, done.commit)
    assert "src/mylib/__init__.py" in paths and "tests/test_double.py" in paths
    leaked = [p for p in paths if p == ".env" or ".venv" in p or ".egg-info" in p]
    assert leaked == [], f"kept-out paths reached a commit: {leaked}"
    assert git(repo, "status", "--porcelain", "--", ".env").startswith("??")  # user's config kept
    assert not (repo / ".git" / "info" / "exclude").read_text(encoding="utf-8").count(".env")

    assert "Ran 2 tests" in project.layout.checks_log(TID, 1).read_text(encoding="utf-8")
    for role in ("factory", "qa"):  # the agents' sessions: the worktree's venv, not the user's
        session = json.loads((seen / f"{role}-1.json").read_text(encoding="utf-8"))
        assert session["VIRTUAL_ENV"] == str(worktree / ".venv"), session
        path = session["PATH"].split(os.pathsep)
        assert path[0] == str(worktree / ".venv" / "bin")
        assert str(tmp_path / "outer" / "bin") not in path
    assert len(events(project, "setup_start", taskspec_id=TID)) == 1

    before = len(launches(project, taskspec_id=TID))
    build_ok(project)  # nothing changed: no setup, no attempt
    assert len(events(project, "setup_start", taskspec_id=TID)) == 1
    assert len(launches(project, taskspec_id=TID)) == before

    # `doit clean` removes the worktree: its .venv, .env and egg-info do not make it dirty
    cleaned = run_doit(project, "clean", f"worktree:{TID}")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert not worktree.exists()


def test_without_a_setup_the_first_build_and_doctor_warn_of_the_main_checkouts_install(
    project: HatchProject, tmp_path: Path
) -> None:
    python_project(project, tmp_path)
    project.configure(target={"repo": "_target"})
    project.add_taskspec(TID, test_command=PYTHON_TESTS)

    first = run_doit(project, "worktree")
    assert first.returncode == 0, first.stderr
    warned = [line for line in first.stderr.splitlines() if "WARN" in line]
    assert len(warned) == 1, first.stderr
    assert "mylib installed editable from" in warned[0] and "fix: " in warned[0]
    assert "workspace.setup" in warned[0]
    assert "WARN" not in run_doit(project, "worktree").stderr  # the first build only

    def workspace_check() -> dict[str, str]:
        doctor = hatchdoit(project, "doctor", "--json", timeout=120)
        checks = json.loads(doctor.stdout)["checks"]
        return next(c for c in checks if c["name"] == "workspace")  # type: ignore[no-any-return]

    found = workspace_check()
    assert found["status"] == "warn" and "workspace.setup" in found["fix"]
    project.configure(workspace={"setup": PYTHON_SETUP})
    assert workspace_check()["status"] == "ok"


def test_node_taskspec_adding_a_dependency_gets_the_setup_rerun_on_its_commit(
    project: HatchProject, tmp_path: Path
) -> None:
    change = node_project(project, tmp_path)
    project.configure(
        target={"repo": "_target"},
        workspace={"setup": [["npm", "ci", "--offline", "--no-audit", "--no-fund"]]},
    )
    body = "Add the shout dependency and test it.\n\n" + fenced(change)
    project.add_taskspec(
        "T-SHOUT", body=body, test_command="npm test --silent", scripted={"factory": "no-commit"}
    )

    build_ok(project, timeout=240)

    done = done_record(project, "T-SHOUT")
    assert done.attempt == 1
    worktree = project.layout.worktree("T-SHOUT")
    assert (worktree / "node_modules" / "shout").exists()
    starts = [e["attempt"] for e in events(project, "setup_start", taskspec_id="T-SHOUT")]
    assert starts == [0, 1], "the setup did not run again on the attempt's commit"
    paths = committed_paths(worktree, done.commit)
    assert "package-lock.json" in paths and "vendor/shout/index.js" in paths
    assert not [p for p in paths if "node_modules" in p]
    lock = json.loads(git(worktree, "show", f"{done.commit}:package-lock.json"))
    assert "node_modules/shout" in lock["packages"]
