"""Builds whose worktrees are clones of the target repo (real doit, tmux and the scripted agent):
the agent's commits reach the target's taskspec/<ID> through hatchdoit's take_branch, also when
the build is killed between the agent's commit and that (the next doit takes it); a retry goes
on on the same branch, a rerun does nothing, `hatchdoit reset` starts a new clone; an older
version's linked worktree is built in as it was."""

from __future__ import annotations

import subprocess

import pytest
from conftest import events, git, read_json, run_doit
from daily_use import hatchdoit
from projects import HatchProject, doit_executable

from hatchdoit.run.gitops import ensure_repo

pytestmark = pytest.mark.integration


def has(project: HatchProject, commit: str) -> bool:
    probe = ["git", "-C", str(project.target), "cat-file", "-e", f"{commit}^{{commit}}"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def tip(project: HatchProject, tid: str) -> str:
    return git(project.target, "rev-parse", f"refs/heads/taskspec/{tid}").strip()


def worktree_head(project: HatchProject, tid: str) -> str:
    return git(project.layout.worktree(tid), "rev-parse", "HEAD").strip()


def test_killed_between_the_agents_commit_and_the_take_the_next_doit_takes_it(
    project: HatchProject,
) -> None:
    project.configure(integrate="merge")
    project.add_taskspec("A")
    killed = subprocess.run(
        [doit_executable()],
        cwd=project.root,
        env={**project.env, "HATCHDOIT_FAULT": "wait.after_stop@A"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode != 0, killed.stdout + killed.stderr
    wt = project.layout.worktree("A")
    assert (wt / ".git").is_dir(), killed.stdout + killed.stderr  # a clone, not linked
    committed = worktree_head(project, "A")
    assert tip(project, "A") != committed  # the agent committed; the target has not got it yet
    assert not has(project, committed)
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    record = read_json(project.layout.done("A"))
    assert git(project.target, "merge-base", "--is-ancestor", committed, record["commit"]) == ""
    assert tip(project, "A") == record["commit"]
    assert not project.layout.worktree("A").exists()  # delivered: its clone is deleted
    landed = read_json(project.layout.integration("A"))
    assert landed["outcome"] == "integrated"
    assert git(project.target, "fsck", "--no-dangling").strip() == ""
    again = run_doit(project)  # nothing left to do
    assert again.returncode == 0 and tip(project, "A") == record["commit"]
    assert len(events(project, "launch")) == 2  # factory and QA, once each


def test_a_retry_goes_on_on_the_same_branch_and_reset_starts_anew(
    project: HatchProject,
) -> None:
    project.add_taskspec("B", scripted={"qa": "reject-once"}, max_attempts=2)
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    record = read_json(project.layout.done("B"))
    assert record["attempt"] == 2 and tip(project, "B") == record["commit"]
    attempts = [e for e in events(project, "step_end") if e.get("step") == "factory"]
    assert len(attempts) >= 2
    history = git(project.target, "log", "--format=%s", "taskspec/B").splitlines()
    assert len(history) >= 3, history  # both attempts' commits on the base, in the target
    reset = hatchdoit(project, "reset", "B")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    rebuilt = run_doit(project)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    kept = git(project.target, "rev-parse", "refs/hatchdoit/resets/B/1").strip()
    assert git(project.target, "merge-base", "--is-ancestor", record["commit"], kept) == ""
    assert (project.layout.worktree("B") / ".git").is_dir()
    assert read_json(project.layout.worktree_record("B"))["reset"] == 1
    assert tip(project, "B") == read_json(project.layout.done("B"))["commit"]


def test_an_older_linked_worktree_is_built_in_as_it_was(project: HatchProject) -> None:
    project.configure(integrate="merge")
    project.add_taskspec("OLD")
    ensure_repo(project.target, project.seed)
    wt = project.layout.worktree("OLD")
    wt.parent.mkdir(parents=True, exist_ok=True)
    git(project.target, "worktree", "add", "-q", "-b", "taskspec/OLD", str(wt), "main")
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    record = read_json(project.layout.done("OLD"))
    assert tip(project, "OLD") == record["commit"]
    assert read_json(project.layout.integration("OLD"))["outcome"] == "integrated"
    assert not wt.exists()  # delivered: removed with `git worktree remove`
    assert str(wt) not in git(project.target, "worktree", "list")
