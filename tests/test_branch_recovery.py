"""A done TaskSpec's branch is lost (worktree removed, `git branch -D`), then `doit` runs again.

The approved work must never vanish silently: the worktree step brings the branch back at the
commit done.json records while git still has that commit, and reruns the TaskSpec's chain, with
a WARN saying why, once the commit is gone too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import events, git, read_log, run_doit
from projects import HatchProject, module_body

from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration

TID = "BR001-BRANCH"
BRANCH = f"taskspec/{TID}"


def build_ok(project: HatchProject, *args: str) -> None:
    done = run_doit(project, *args)
    assert done.returncode == 0, f"doit failed:\n{done.stdout}\n{done.stderr}"


def lose_branch(project: HatchProject) -> None:
    """What a user's clean-up does: remove the worktree (a clone: its directory), then delete
    its branch."""
    repo = project.target
    shutil.rmtree(project.layout.worktree(TID))
    git(repo, "branch", "-D", BRANCH)


def has_commit(repo: Path, commit: str) -> bool:
    probe = ["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def warnings(project: HatchProject) -> list[dict[str, object]]:
    return [
        line
        for line in read_log(project, "orchestrator")
        if line["level"] == "WARN" and line.get("taskspec_id") == TID
    ]


def built(project: HatchProject) -> DoneRecord:
    project.add_taskspec(TID, body=module_body("kept", "kept", "approved work"))
    build_ok(project)
    return load_valid(project.layout.done(TID), DoneRecord)


def test_lost_branch_is_restored_at_the_approved_commit(project: HatchProject) -> None:
    done = built(project)
    launches = len(events(project, "launch"))
    lose_branch(project)
    assert not git(project.target, "branch", "--list", BRANCH).strip()
    assert has_commit(project.target, done.commit)  # unreachable, not yet pruned

    build_ok(project)

    repo, worktree = project.target, project.layout.worktree(TID)
    assert git(repo, "rev-parse", BRANCH).strip() == done.commit
    assert git(worktree, "symbolic-ref", "--short", "HEAD").strip() == BRANCH
    assert git(worktree, "rev-parse", "HEAD").strip() == done.commit
    assert (worktree / "src" / "app" / "kept.py").is_file()
    assert load_valid(project.layout.done(TID), DoneRecord) == done
    assert len(events(project, "launch")) == launches, "restoring the branch reran agents"
    restored = [w for w in warnings(project) if w.get("operation") == "restore_branch"]
    assert len(restored) == 1, warnings(project)
    assert done.commit in str(restored[0]["msg"]) and BRANCH in str(restored[0]["msg"])

    build_ok(project)  # and now it is a no-op again
    assert len(events(project, "launch")) == launches
    assert len(warnings(project)) == 1


def test_lost_branch_whose_commit_is_gone_reruns_the_chain(project: HatchProject) -> None:
    first = built(project)
    launches = len(events(project, "launch"))
    lose_branch(project)
    repo = project.target
    git(repo, "reflog", "expire", "--expire=now", "--expire-unreachable=now", "--all")
    git(repo, "gc", "--quiet", "--prune=now")
    assert not has_commit(repo, first.commit)

    build_ok(project)

    lost = [w for w in warnings(project) if w.get("operation") == "lost_branch"]
    assert len(lost) == 1, warnings(project)
    assert first.commit in str(lost[0]["msg"]) and "rerun" in str(lost[0]["msg"])
    assert len(events(project, "launch")) == launches + 2, "the chain was not rerun"
    again = load_valid(project.layout.done(TID), DoneRecord)
    # The same tree on the same parent, committed within the same second, has the same id as the
    # lost commit, so the rerun shows in a newer record and in the commit existing again.
    assert again.finished_at > first.finished_at and again.attempt == 1
    assert has_commit(repo, again.commit)
    worktree = project.layout.worktree(TID)
    assert git(repo, "rev-parse", BRANCH).strip() == again.commit
    assert git(worktree, "rev-parse", "HEAD").strip() == again.commit
    assert (worktree / "src" / "app" / "kept.py").is_file()
    # The records of the lost work are kept aside, not deleted.
    kept = list(project.layout.state_dir(TID).glob("lost-*/done.json"))
    assert len(kept) == 1
    assert load_valid(kept[0], DoneRecord) == first

    build_ok(project)
    assert len(events(project, "launch")) == launches + 2


def test_dependent_of_a_restored_taskspec_is_not_rebuilt(project: HatchProject) -> None:
    project.add_taskspec(TID, body=module_body("kept", "kept", "approved work"))
    project.add_taskspec("BR002-USER", body=module_body("user", "user", "u"), depends_on=[TID])
    build_ok(project)
    done = load_valid(project.layout.done(TID), DoneRecord)
    user = load_valid(project.layout.done("BR002-USER"), DoneRecord)
    launches = len(events(project, "launch"))
    lose_branch(project)

    build_ok(project)

    assert git(project.target, "rev-parse", BRANCH).strip() == done.commit
    assert len(events(project, "launch")) == launches
    assert load_valid(project.layout.done("BR002-USER"), DoneRecord) == user
    worktree_steps = [e["taskspec_id"] for e in events(project, "step_start", step="worktree")]
    assert sorted(worktree_steps) == sorted([TID, TID, "BR002-USER"]), worktree_steps
