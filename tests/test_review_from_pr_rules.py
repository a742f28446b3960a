"""`review_from: pr` makes the pull request the review, so it needs `integrate: pr` and a gate the
pull request exists at: `review: after-qa` holds the TaskSpec before done.json, before any pull
request is opened, so it would wait forever. Both combinations are refused when the project
loads (`hatchdoit validate`, `doit`, `hatchdoit ci`), each with one line naming both keys; a
TaskSpec's own `review: after-qa` under `review_from: pr` is that TaskSpec's error."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_doit
from daily_use import hatchdoit
from projects import HatchProject, make_project

pytestmark = pytest.mark.integration


@pytest.fixture
def plain(tmp_path: Path) -> HatchProject:
    made = make_project(tmp_path)
    made.add_taskspec("A")
    return made


def test_review_from_pr_without_integrate_pr_is_refused(plain: HatchProject) -> None:
    plain.configure(integrate="merge", review="before-integrate", review_from="pr")
    done = hatchdoit(plain, "validate")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "review_from: pr" in lines[0] and "integrate: pr" in lines[0]
    assert "integrate is merge" in lines[0] and "(fix: " in lines[0]
    built = run_doit(plain, timeout=60)
    assert built.returncode != 0 and "review_from: pr" in built.stderr, built.stderr
    assert not plain.layout.worktree("A").exists()


def test_review_from_pr_with_the_after_qa_gate_is_refused(plain: HatchProject) -> None:
    plain.configure(integrate="pr", review="after-qa", review_from="pr")
    done = hatchdoit(plain, "validate")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "review_from: pr" in lines[0] and "review: after-qa" in lines[0]
    assert "before-integrate" in lines[0]  # the fix names the gate that works
    ci = hatchdoit(plain, "ci")
    assert ci.returncode == 2 and "review: after-qa" in ci.stdout + ci.stderr


def test_a_taskspec_s_own_after_qa_gate_under_review_from_pr_is_its_error(
    plain: HatchProject,
) -> None:
    plain.configure(integrate="pr", review="before-integrate", review_from="pr")
    path = plain.add_taskspec("B")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("depends_on: []\n", "depends_on: []\nreview: after-qa\n"))
    done = hatchdoit(plain, "validate")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{path}: review: " in done.stderr and "review_from: pr" in done.stderr
    assert "1 TaskSpec(s): 1 to build, 1 problem(s)" in done.stdout  # A stays
    good = plain.add_taskspec("B")  # its gate back to the project's
    assert good == path
    assert hatchdoit(plain, "validate").returncode == 0
