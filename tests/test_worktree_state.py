"""gitops.worktree_state: HEAD, its branch and the dirty paths from one `git status`, the same
answers as head_commit, head_ref and dirty_paths (one git process each) in every state an agent
can leave a worktree in."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hatchdoit.run import gitops

WHO = gitops.identity("t", "t@example.com")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    made = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(made)], check=True)
    return made


def _commit(repo: Path, message: str) -> None:
    gitops.git(repo, "add", "-A")
    gitops.git(repo, "commit", "-q", "-m", message, env=WHO)


def _same_as_three_calls(repo: Path, exclude: list[str] | None = None) -> gitops.WorktreeState:
    state = gitops.worktree_state(repo, exclude)
    assert state.head == gitops.head_commit(repo)
    assert state.branch == gitops.head_ref(repo)
    assert state.dirty == gitops.dirty_paths(repo, exclude)
    return state


def test_before_the_first_commit(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    state = gitops.worktree_state(repo)
    assert (state.head, state.branch, state.dirty) == (None, "refs/heads/main", ["a.txt"])


def test_every_kind_of_change(repo: Path) -> None:
    for name in ("keep.txt", "old name.txt", "gone.txt", "edit.txt"):
        (repo / name).write_text(f"{name} has some lines\n" * 5)
    _commit(repo, "first")
    assert _same_as_three_calls(repo).dirty == []
    gitops.git(repo, "mv", "old name.txt", "new name.txt")  # a staged rename
    (repo / "gone.txt").unlink()
    (repo / "edit.txt").write_text("changed\n")
    (repo / "deep" / "er").mkdir(parents=True)
    (repo / "deep" / "er" / "untracked file.txt").write_text("u\n")
    (repo / ".gitignore").write_text("ignored/\n")
    (repo / "ignored").mkdir()
    (repo / "ignored" / "x").write_text("x\n")
    (repo / "tab\tname").write_text("t\n")
    state = _same_as_three_calls(repo)
    assert state.dirty == sorted(
        [".gitignore", "deep/er/untracked file.txt", "edit.txt", "gone.txt", "new name.txt",
         "tab\tname"]
    )  # fmt: skip
    assert _same_as_three_calls(repo, [":(exclude)deep"]).dirty == sorted(
        [".gitignore", "edit.txt", "gone.txt", "new name.txt", "tab\tname"]
    )


def test_detached_and_on_another_branch(repo: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    _commit(repo, "first")
    gitops.git(repo, "checkout", "-q", "--detach")
    assert _same_as_three_calls(repo).branch is None
    gitops.git(repo, "checkout", "-q", "-b", "taskspec/T-1")
    assert _same_as_three_calls(repo).branch == "refs/heads/taskspec/T-1"


def test_a_merge_conflict_is_dirty(repo: Path) -> None:
    (repo / "c.txt").write_text("base\n")
    _commit(repo, "base")
    gitops.git(repo, "checkout", "-q", "-b", "side")
    (repo / "c.txt").write_text("side\n")
    _commit(repo, "side")
    gitops.git(repo, "checkout", "-q", "main")
    (repo / "c.txt").write_text("main\n")
    _commit(repo, "main")
    assert gitops.try_git(repo, "merge", "-q", "side", env=WHO).returncode != 0
    assert _same_as_three_calls(repo).dirty == ["c.txt"]
