"""A person in the loop, with real builds (the scripted agent, real git, real doit): reject with
feedback, approve an escalated TaskSpec with a commit made by hand, retry with more attempts,
the review gate, reset; decisions that survive kill -9 and are never applied twice; bad input
in one line with exit 2; and the planning repo byte-identical after every test."""

from __future__ import annotations

import fcntl
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import events, git, read_json, run_doit, tree_hashes
from daily_use import hatchdoit
from projects import HatchProject, doit_executable

from hatchdoit.core.errors import EXIT_CONFIG, EXIT_FAILED

pytestmark = pytest.mark.integration


@pytest.fixture
def planned(project: HatchProject) -> Iterator[HatchProject]:
    """A project delivering with merge; its planning repo is byte-identical at the end."""
    project.configure(integrate="merge")
    yield project
    assert tree_hashes(project.planning) == PLANNING[project.root], "the planning repo changed"


PLANNING: dict[Path, dict[str, str]] = {}


def plan_done(project: HatchProject) -> None:
    """The planning repo as it is once the test wrote its TaskSpecs."""
    PLANNING[project.root] = tree_hashes(project.planning)


def ok(project: HatchProject, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_doit(project, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def decide(project: HatchProject, *args: str) -> subprocess.CompletedProcess[str]:
    return hatchdoit(project, *args)


def landed(project: HatchProject, tid: str) -> list[str]:
    repo = project.root / "_target"
    return git(repo, "log", "--format=%H", "main", f"--grep=Hatchdoit-TaskSpec: {tid}").split()


def test_reject_a_done_taskspec_reruns_it_with_the_feedback_and_dependents_follow(
    planned: HatchProject,
) -> None:
    project = planned
    project.add_taskspec("A")
    project.add_taskspec("B", depends_on=["A"])
    plan_done(project)
    ok(project)
    first_a = read_json(project.layout.done("A"))["commit"]
    first_b = read_json(project.layout.done("B"))
    feedback = "Rename f_a to answer_a, and say why in the docstring.\nKeep the test."
    said = decide(project, "reject", "A", "--feedback", feedback)
    assert said.returncode == 0, said.stderr
    assert said.stdout.strip() == "rejected A: the next doit runs attempt 2 with your feedback"
    made = read_json(project.layout.decision("A", 1))
    assert made["kind"] == "reject" and made["feedback"] == feedback
    assert made["who"] == "Hatchdoit Test <test@example.invalid>"
    assert events(project, "decision", taskspec_id="A")
    ok(project)
    prompt = project.layout.prompt("A", "factory", 2).read_text(encoding="utf-8")
    assert feedback in prompt, "the feedback is in the prompt verbatim"
    done_a = read_json(project.layout.done("A"))
    assert done_a["attempt"] == 2 and done_a["commit"] != first_a
    assert len(landed(project, "A")) == 2, "delivered again"
    done_b = read_json(project.layout.done("B"))
    assert done_b["digest"] != first_b["digest"], "the dependent rebuilt on the new commit"
    base_b = read_json(project.layout.worktree_record("B"))["base_commit"]
    repo = project.root / "_target"
    assert (
        subprocess.run(
            ["git", "-C", str(repo), "merge-base", "--is-ancestor", done_a["commit"], base_b]
        ).returncode
        == 0
    )
    again = run_doit(project)
    assert again.returncode == 0 and "nothing to do" in again.stdout, "applied once"


def test_approve_an_escalated_taskspec_with_a_commit_made_by_hand(planned: HatchProject) -> None:
    project = planned
    project.add_taskspec("X", scripted={"factory": "fail-tests"}, max_attempts=1)
    plan_done(project)
    failed = run_doit(project)
    assert failed.returncode != 0 and "escalated after 1 attempt(s)" in failed.stderr
    worktree = project.layout.worktree("X")
    (worktree / "tests" / "test_zz_scripted_failure.py").unlink()  # the person's fix
    git(worktree, "commit", "-qam", "fix the test by hand", env=project.env)
    fixed = git(worktree, "rev-parse", "HEAD").strip()
    said = decide(project, "approve", "X", "--commit", fixed, "--note", "fixed it myself")
    assert said.returncode == 0, said.stderr
    ok(project)
    done = read_json(project.layout.done("X"))
    assert done["commit"] == fixed and done["attempt"] == 1
    assert done["verdict"].startswith("Hatchdoit Test")  # approved by the person
    merged = read_json(project.layout.integration("X"))
    assert merged["approved_commit"] == fixed and merged["outcome"] == "integrated"


def test_retry_gives_more_attempts_after_the_last_with_all_earlier_feedback(
    planned: HatchProject,
) -> None:
    project = planned
    project.add_taskspec("Y", scripted={"factory": ["fail-tests", "fail-tests", "succeed"]},
                         max_attempts=2)  # fmt: skip
    plan_done(project)
    assert run_doit(project).returncode != 0
    said = decide(project, "retry", "Y", "--attempts", "1", "--feedback", "Look at the test log.")
    assert said.returncode == 0 and "runs attempt 3" in said.stdout, said.stdout + said.stderr
    ok(project)
    assert read_json(project.layout.done("Y"))["attempt"] == 3
    prompt = project.layout.prompt("Y", "factory", 3).read_text(encoding="utf-8")
    assert "## QA feedback from attempt 1" in prompt
    assert "## QA feedback from attempt 2" in prompt
    assert "Look at the test log." in prompt
    launched = {(e["role"], e["attempt"]) for e in events(project, "launch", taskspec_id="Y")}
    assert launched == {("factory", 1), ("qa", 1), ("factory", 2), ("qa", 2),
                        ("factory", 3), ("qa", 3)}  # fmt: skip


def test_the_review_gate_holds_integration_until_a_person_approves(
    planned: HatchProject,
) -> None:
    project = planned
    project.configure(review="before-integrate")
    project.add_taskspec("G")
    plan_done(project)
    held = run_doit(project)
    assert held.returncode != 0
    assert any(line.startswith("W ") and "integrate:G" in line for line in held.stdout.splitlines())
    assert "awaiting review" in held.stderr and "hatchdoit review G" in held.stderr
    assert not landed(project, "G")
    status = json.loads(hatchdoit(project, "status", "--json").stdout)
    assert status["taskspecs"][0]["state"] == "awaiting review"
    ci = hatchdoit(project, "ci", timeout=120)
    assert ci.returncode == 4, ci.stdout + ci.stderr
    assert "G awaits review: hatchdoit review G" in ci.stdout
    review = hatchdoit(project, "review", "G")
    assert review.returncode == 0, review.stderr
    assert "state: awaiting review" in review.stdout and "hatchdoit approve G" in review.stdout
    assert "src/app/m_g.py" in review.stdout  # the stat and the patch
    assert decide(project, "approve", "G").returncode == 0
    ok(project)
    assert len(landed(project, "G")) == 1


def test_the_after_qa_gate_keeps_dependents_waiting(planned: HatchProject) -> None:
    project = planned
    project.configure(review="after-qa")
    project.add_taskspec("P")
    project.add_taskspec("Q", depends_on=["P"])
    plan_done(project)
    held = run_doit(project)
    assert held.returncode != 0
    assert not project.layout.done("P").exists()
    assert not project.layout.worktree("Q").exists()
    assert decide(project, "approve", "P").returncode == 0
    again = run_doit(project)  # Q now waits for its own review
    assert project.layout.done("P").exists() and landed(project, "P")
    assert "Q" in again.stderr and again.returncode != 0
    assert decide(project, "approve", "Q").returncode == 0
    ok(project)
    assert landed(project, "Q")


def test_reset_starts_over_from_the_base_and_keeps_the_old_branch(planned: HatchProject) -> None:
    project = planned
    project.add_taskspec("R")
    plan_done(project)
    ok(project)
    old = read_json(project.layout.done("R"))["commit"]
    said = decide(project, "reset", "R")
    assert said.returncode == 0 and "at attempt 4" in said.stdout, said.stdout + said.stderr
    ok(project)
    repo = project.root / "_target"
    kept = git(repo, "rev-parse", "refs/hatchdoit/resets/R/1").strip()
    assert git(repo, "merge-base", "--is-ancestor", old, kept) == ""
    done = read_json(project.layout.done("R"))
    assert done["attempt"] == 4 and done["commit"] != old
    assert project.layout.prompt("R", "factory", 4).is_file()
    assert read_json(project.layout.worktree_record("R"))["reset"] == 1
    assert (project.layout.state_dir("R") / "reset-001" / "done.json").is_file()
    hard = decide(project, "reset", "R", "--hard")
    assert hard.returncode == EXIT_CONFIG and "--yes" in hard.stderr


def test_a_decision_survives_kill_9_and_is_applied_once(planned: HatchProject) -> None:
    project = planned
    project.add_taskspec("K")
    plan_done(project)
    ok(project)
    assert decide(project, "reject", "K", "--feedback", "Once more.").returncode == 0
    killed = subprocess.run(
        [doit_executable()],
        cwd=project.root,
        env={**project.env, "HATCHDOIT_FAULT": "factory.before_receipt@K"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9
    ok(project)
    launches = [e for e in events(project, "launch", taskspec_id="K", role="factory")]
    assert sorted(e["attempt"] for e in launches) == [1, 2], "attempt 2 ran once, resumed"
    assert len(list(project.layout.state_dir("K").glob("decision-*.json"))) == 1
    assert read_json(project.layout.done("K"))["attempt"] == 2
    assert len(landed(project, "K")) == 2
    assert "nothing to do" in ok(project).stdout


def test_bad_decisions_are_one_line_and_exit_2(planned: HatchProject) -> None:
    project = planned
    project.add_taskspec("D")
    plan_done(project)
    unknown = decide(project, "approve", "NOPE")
    assert unknown.returncode == EXIT_CONFIG and "unknown TaskSpec 'NOPE'" in unknown.stderr
    early = decide(project, "reject", "D", "--feedback", "x")
    assert early.returncode == EXIT_CONFIG and "D is not started" in early.stderr
    ok(project)
    empty = decide(project, "reject", "D", "--feedback", "  ")
    assert empty.returncode == EXIT_CONFIG and "the feedback is empty" in empty.stderr
    done = decide(project, "approve", "D")
    assert done.returncode == EXIT_CONFIG and "only a TaskSpec awaiting review" in done.stderr
    retry = decide(project, "retry", "D")
    assert retry.returncode == EXIT_CONFIG and "only an escalated TaskSpec" in retry.stderr
    for said in (unknown, early, empty, done, retry):
        assert len(said.stderr.strip().splitlines()) == 1, said.stderr
        assert "Traceback" not in said.stderr
    lock = project.layout.locks / "D.lock"
    with open(lock, "w") as held:  # a step of D is running
        fcntl.flock(held, fcntl.LOCK_EX)
        busy = decide(project, "reject", "D", "--feedback", "later")
    assert busy.returncode == EXIT_FAILED and "a step of it is running" in busy.stderr
    assert not list(project.layout.state_dir("D").glob("decision-*.json"))


def test_review_and_diff_show_the_attempt(planned: HatchProject) -> None:
    project = planned
    project.add_taskspec("V", scripted={"qa": "reject-once"})
    plan_done(project)
    ok(project)
    shown = json.loads(hatchdoit(project, "review", "V", "--json").stdout)
    assert shown["attempt"] == 2 and shown["state"].startswith("done (delivered: main at ")
    assert "src/app/m_v.py" in shown["stat"] and shown["verdict"]["verdict"] == "approved"
    first = json.loads(hatchdoit(project, "review", "V", "--attempt", "1", "--json").stdout)
    assert first["verdict"]["verdict"] == "rejected" and first["verdict"]["feedback"]
    patch = hatchdoit(project, "diff", "V")
    assert patch.returncode == 0 and patch.stdout.startswith("diff --git")
    pager = project.root.parent / "pager.sh"
    pager.write_text('#!/bin/sh\ncat > "$0.out"\n')
    pager.chmod(0o755)
    assert hatchdoit(project, "review", "V", env={"PAGER": str(pager)}).stdout  # not a tty
    assert not Path(f"{pager}.out").exists()
    missing = hatchdoit(project, "review", "V", "--attempt", "3")
    assert missing.returncode == EXIT_CONFIG and "attempt 3 of V has no commit" in missing.stderr
