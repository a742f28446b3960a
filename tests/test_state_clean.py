"""Worktree removal through `doit clean`, with validation: a dirty worktree is refused (saying
why, exiting non-zero), a clean one removed with its record while its branch stays, what is not
hatchdoit's worktree left alone, and a worktree deleted by hand pruned from git.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import git, run_doit
from projects import HatchProject
from state_safety import TID

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# doit clean: worktree removal with validation


def registered_worktrees(project: HatchProject) -> list[str]:
    listing = git(project.root / "_target", "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("worktree ")]


def test_clean_refuses_a_dirty_worktree_then_removes_a_clean_one(project: HatchProject) -> None:
    project.add_taskspec(TID)
    assert run_doit(project).returncode == 0
    worktree = project.layout.worktree(TID)
    (worktree / "uncommitted.txt").write_text("work in progress\n", encoding="utf-8")

    refused = run_doit(project, "clean", f"worktree:{TID}")
    assert "Traceback" not in refused.stdout + refused.stderr
    assert (worktree / "uncommitted.txt").is_file()
    assert project.layout.worktree_record(TID).is_file()
    assert (worktree / ".git").is_dir()  # the clone, untouched

    (worktree / "uncommitted.txt").unlink()
    removed = run_doit(project, "clean", f"worktree:{TID}")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not worktree.exists()
    # the record stays: a recreated worktree keeps its base (tests/test_delivery_commits.py)
    assert project.layout.worktree_record(TID).is_file()
    assert str(worktree) not in registered_worktrees(project)
    assert git(project.root / "_target", "branch", "--list", f"taskspec/{TID}").strip()


def dirty_clean(project: HatchProject) -> subprocess.CompletedProcess[str]:
    project.add_taskspec(TID)
    assert run_doit(project, f"worktree:{TID}").returncode == 0
    (project.layout.worktree(TID) / "uncommitted.txt").write_text("x\n", encoding="utf-8")
    return run_doit(project, "clean", f"worktree:{TID}")


def test_clean_refusal_tells_why(project: HatchProject) -> None:
    refused = dirty_clean(project)
    assert "uncommitted changes; not removing it" in refused.stdout + refused.stderr


def test_clean_refusal_exits_non_zero(project: HatchProject) -> None:
    refused = dirty_clean(project)
    assert refused.returncode != 0, refused.stdout + refused.stderr


def test_clean_refuses_what_is_not_our_worktree(project: HatchProject, tmp_path: Path) -> None:
    project.add_taskspec(TID)
    assert run_doit(project, f"worktree:{TID}").returncode == 0
    worktree = project.layout.worktree(TID)
    shutil.rmtree(worktree)
    worktree.mkdir()
    (worktree / "precious.txt").write_text("not hatchdoit's\n", encoding="utf-8")

    refused = run_doit(project, "clean", f"worktree:{TID}")
    assert "Traceback" not in refused.stdout + refused.stderr
    assert (worktree / "precious.txt").is_file()

    shutil.rmtree(worktree)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("elsewhere\n", encoding="utf-8")
    worktree.symlink_to(outside)
    run_doit(project, "clean", f"worktree:{TID}")
    assert (outside / "precious.txt").is_file() and worktree.is_symlink()


def test_clean_prunes_a_worktree_deleted_by_hand(project: HatchProject) -> None:
    """A linked worktree an older version made, deleted by hand: git's record of it goes."""
    project.add_taskspec(TID)
    assert run_doit(project, f"worktree:{TID}").returncode == 0
    worktree = project.layout.worktree(TID)
    shutil.rmtree(worktree)
    git(project.root / "_target", "worktree", "add", "-q", str(worktree), f"taskspec/{TID}")
    shutil.rmtree(worktree)
    assert str(worktree) in registered_worktrees(project)  # git still has its record

    done = run_doit(project, "clean", f"worktree:{TID}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(worktree) not in registered_worktrees(project)
