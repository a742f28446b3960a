"""What is approved is a commit: an agent that never commits still has its work approved and
delivered as a commit hatchdoit made; test by-products never count or stay; a QA agent that
edits the worktree has its changes kept aside and discarded; done.json, the checks and QA all
name the one commit; and limits that only bound work (max_attempts) are not inputs."""

from __future__ import annotations

import pytest
from conftest import events, git, read_json, run_doit
from projects import HatchProject, module_body

pytestmark = pytest.mark.integration


def test_work_an_agent_never_committed_is_committed_checked_approved_and_delivered(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge", workspace={"remove_delivered": False})  # looked at below
    project.add_taskspec("A", scripted={"factory": "no-commit"})
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = read_json(project.layout.receipt("A", "summary", 1))
    commit = summary["data"]["commit"]
    assert sorted(summary["data"]["committed_for_agent"]) == [
        "src/app/m_a.py",
        "tests/test_m_a.py",
    ]
    worktree = project.layout.worktree("A")
    message = git(worktree, "log", "-1", "--format=%an <%ae>%n%B", commit)
    assert message.startswith("hatchdoit <hatchdoit@localhost>\nA: attempt 1, as the factory")
    assert events(project, "committed_for_agent", taskspec_id="A")
    checks = read_json(project.layout.checks("A", 1))
    assert checks["commit"] == commit and checks["loc"]["commit"] == commit
    assert checks["loc"]["added"] > 0 and "src/app/m_a.py" in checks["loc"]["files"]
    assert read_json(project.layout.receipt("A", "qa", 1))["data"]["commit"] == commit
    assert read_json(project.layout.done("A"))["commit"] == commit
    main_files = git(project.root / "_target", "ls-tree", "-r", "--name-only", "main")
    assert "src/app/m_a.py" in main_files.split()


def test_test_by_products_neither_count_nor_stay(project: HatchProject) -> None:
    """A test that writes a file into the worktree: the LOC is measured on the commit before the
    tests run, and what they left is removed after them (and listed)."""
    body = module_body("byprod", "byprod") + (
        "\n```file:tests/test_writes.py\n"
        "import pathlib\nimport unittest\n\n\n"
        "class WritesTest(unittest.TestCase):\n"
        "    def test_writes(self) -> None:\n"
        "        pathlib.Path('left-by-tests.txt').write_text('x\\n' * 500)\n"
        "```\n"
    )
    project.add_taskspec("A", body, loc_cap=60)
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = read_json(project.layout.checks("A", 1))
    assert checks["passed"] is True
    assert "left-by-tests.txt" not in checks["loc"]["files"]
    assert checks["by_products"] == ["left-by-tests.txt"]
    assert not (project.layout.worktree("A") / "left-by-tests.txt").exists()
    assert git(project.layout.worktree("A"), "status", "--porcelain") == ""


def test_a_qa_agent_that_edits_the_tree_has_its_changes_kept_aside_and_discarded(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge", workspace={"remove_delivered": False})  # looked at below
    project.add_taskspec("A", scripted={"qa": "approve-and-edit"})
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    qa = read_json(project.layout.receipt("A", "qa", 1))
    commit = qa["data"]["commit"]
    ref = qa["data"]["qa_leftovers"]
    assert ref == "refs/hatchdoit/qa-leftovers/A/1"
    worktree = project.layout.worktree("A")
    kept = git(worktree, "show", "--name-only", "--format=", ref).split()
    assert kept == ["QA_WAS_HERE.txt"]
    assert git(worktree, "rev-parse", "HEAD").strip() == commit
    assert not (worktree / "QA_WAS_HERE.txt").exists()
    assert read_json(project.layout.done("A"))["commit"] == commit
    main_files = git(project.root / "_target", "ls-tree", "-r", "--name-only", "main").split()
    assert "QA_WAS_HERE.txt" not in main_files


def test_raising_max_attempts_adds_attempts_and_invalidates_nothing_done(
    project: HatchProject,
) -> None:
    project.configure(limits={"max_attempts": 1})
    project.add_taskspec("X", scripted={"factory": ["fail-tests", "succeed"]})
    project.add_taskspec("Y")
    first = run_doit(project, "--continue")
    assert first.returncode != 0 and "escalated after 1 attempt(s)" in first.stderr
    done_y = read_json(project.layout.done("Y"))
    launched = len(events(project, "launch"))
    project.configure(limits={"max_attempts": 2})
    second = run_doit(project)
    assert second.returncode == 0, second.stdout + second.stderr
    assert read_json(project.layout.done("Y")) == done_y, "Y was not rebuilt"
    new = events(project, "launch")[launched:]
    assert {(e["taskspec_id"], e["attempt"]) for e in new} == {("X", 2)}, new
    assert read_json(project.layout.done("X"))["attempt"] == 2


def test_doit_clean_worktree_keeps_the_recorded_base(project: HatchProject) -> None:
    project.add_taskspec("A")
    assert run_doit(project).returncode == 0
    record = read_json(project.layout.worktree_record("A"))
    cleaned = run_doit(project, "clean", "worktree:A")
    assert cleaned.returncode == 0, cleaned.stderr
    assert not project.layout.worktree("A").exists()
    again = run_doit(project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert project.layout.worktree("A").is_dir()
    assert read_json(project.layout.worktree_record("A"))["base_commit"] == record["base_commit"]
