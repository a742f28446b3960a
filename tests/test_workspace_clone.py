"""A TaskSpec's worktree is a clone of the target repo sharing its objects (create_worktree.sh),
and hatchdoit takes its branch into the target (run/workspace_sync.py): what an agent does to
its clone's other refs stays there, only its own taskspec/<ID> is taken, idempotently, a
rewritten branch keeps its old tip; an older version's linked worktree keeps working as it was.
Real git repos in tmp_path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from script_harness import env, root
from test_scripts_git import commit_file, create, git, remove, repo, take

from hatchdoit.core.errors import StepError
from hatchdoit.run.gitops import dirty_paths
from hatchdoit.run.workspace_sync import catch_up, take_branch, take_ref

pytestmark = pytest.mark.integration

__all__ = ["env", "repo", "root"]  # fixtures


def test_moving_refs_in_the_clone_moves_none_of_the_repo(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    other = Path(create(repo, root, "002-TS-OTHER", env).stdout.strip())
    other_tip = git(repo, "rev-parse", "taskspec/002-TS-OTHER", env=env)
    main = git(repo, "rev-parse", "main", env=env)
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    mine = commit_file(wt, "feature.py", "x = 1\n", env)
    git(wt, "update-ref", "refs/heads/taskspec/002-TS-OTHER", "HEAD", env=env)
    git(wt, "branch", "-f", "main", "HEAD", env=env)
    git(wt, "update-ref", "refs/heads/taskspec/003-TS-NEW", "HEAD", env=env)
    assert take(repo, wt, "001-TS-A") == mine
    assert git(repo, "rev-parse", "taskspec/002-TS-OTHER", env=env) == other_tip
    assert git(repo, "rev-parse", "main", env=env) == main
    assert git(repo, "branch", "--list", "taskspec/003-TS-NEW", env=env) == ""
    assert git(other, "rev-parse", "HEAD", env=env) == other_tip
    # the clone's commit is in the repo's own objects now: the clone can go
    assert remove(repo, root, "001-TS-A", env).returncode == 0
    git(repo, "fsck", "--no-dangling", env=env)
    assert git(repo, "cat-file", "-t", mine, env=env) == "commit"


def test_take_is_idempotent_and_keeps_a_rewritten_tip(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    first = commit_file(wt, "feature.py", "x = 1\n", env)
    assert take(repo, wt, "001-TS-A") == first
    again = take_branch(repo, wt, "001-TS-A")
    assert (again.old, again.new, again.kept) == (first, first, None)
    git(wt, "commit", "-q", "--amend", "-m", "rewritten", env=env)
    rewritten = git(wt, "rev-parse", "HEAD", env=env)
    taken = take_branch(repo, wt, "001-TS-A")
    assert (taken.old, taken.new) == (first, rewritten)
    assert taken.kept == f"refs/hatchdoit/replaced/001-TS-A/{first}"
    assert git(repo, "rev-parse", taken.kept, env=env) == first


def test_take_ref_brings_a_kept_commit(repo: Path, root: Path, env: dict[str, str]) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    kept = commit_file(wt, "kept.py", "kept\n", env)
    git(wt, "update-ref", "refs/hatchdoit/kept/001-TS-A", kept, env=env)
    take_ref(repo, wt, "refs/hatchdoit/kept/001-TS-A", kept)
    assert git(repo, "rev-parse", "refs/hatchdoit/kept/001-TS-A", env=env) == kept
    with pytest.raises(StepError, match="not at"):
        take_ref(repo, wt, "refs/hatchdoit/kept/001-TS-A", "0" * 40)


def test_a_directory_that_is_no_clone_of_the_repo_is_not_taken(
    repo: Path, root: Path, env: dict[str, str], tmp_path: Path
) -> None:
    foreign = root / "001-TS-A"
    subprocess.run(["git", "init", "-q", str(foreign)], env=env, check=True)
    with pytest.raises(StepError, match="not a clone"):
        take_branch(repo, foreign, "001-TS-A")


def test_remove_refuses_a_clone_with_commits_not_taken(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    commit_file(wt, "feature.py", "x = 1\n", env)
    refused = remove(repo, root, "001-TS-A", env)
    assert refused.returncode == 4 and "lacks" in refused.stderr, refused.stderr
    assert wt.is_dir()
    assert remove(repo, root, "001-TS-A", env, "--force").returncode == 0
    assert not wt.exists()


def test_reuse_follows_the_repo_branch_when_it_moved_on(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    git(repo, "checkout", "-q", "taskspec/001-TS-A", env=env)  # a person commits there
    ahead = commit_file(repo, "person.py", "p = 1\n", env)
    git(repo, "checkout", "-q", "main", env=env)
    again = create(repo, root, "001-TS-A", env)
    assert again.returncode == 0, again.stderr
    assert git(wt, "rev-parse", "HEAD", env=env) == ahead
    assert (wt / "person.py").is_file()


def test_the_clone_has_the_repo_identity(repo: Path, root: Path, env: dict[str, str]) -> None:
    git(repo, "config", "user.name", "Repo Person", env=env)
    git(repo, "config", "user.email", "repo@example.invalid", env=env)
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    assert git(wt, "config", "user.email", env=env) == "repo@example.invalid"
    config = (wt / ".git" / "config").read_text()
    assert "repo@example.invalid" in config and "[http" not in config


def test_an_older_linked_worktree_is_reused_and_taking_does_nothing(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    root.mkdir()
    wt = root / "001-TS-A"
    git(repo, "worktree", "add", "-q", "-b", "taskspec/001-TS-A", str(wt), "main", env=env)
    (wt / "work.txt").write_text("uncommitted\n")
    again = create(repo, root, "001-TS-A", env)
    assert again.returncode == 0, again.stderr
    assert (wt / ".git").is_file() and (wt / "work.txt").read_text() == "uncommitted\n"
    head = commit_file(wt, "feature.py", "x = 1\n", env)
    taken = take_branch(repo, wt, "001-TS-A")
    assert (taken.old, taken.new) == (head, head)  # its commit is the repo's already
    removed = remove(repo, root, "001-TS-A", env, "--force")
    assert removed.returncode == 0, removed.stderr
    assert not wt.exists()


def _tampered(repo: Path, wt: Path, ts_id: str) -> str:
    with pytest.raises(StepError) as raised:
        take_branch(repo, wt, ts_id)
    return raised.value.message


def test_a_replaced_git_directory_is_refused_before_any_git_runs_there(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    """An agent renames its `.git` and makes another that leads hatchdoit's git elsewhere."""
    main = git(repo, "rev-parse", "main", env=env)
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    (wt / ".git").rename(wt / ".git-mine")
    (wt / ".git").write_text(f"gitdir: {repo / '.git'}\n")  # the target's own git directory
    assert "a file naming a git directory" in _tampered(repo, wt, "001-TS-A")
    (wt / ".git").unlink()
    (wt / ".git").symlink_to(repo / ".git")
    assert ".git is a symlink" in _tampered(repo, wt, "001-TS-A")
    (wt / ".git").unlink()
    (wt / ".git-mine").rename(wt / ".git")
    refs = wt / ".git" / "refs" / "heads"
    shutil.rmtree(refs)
    refs.symlink_to(repo / ".git" / "refs" / "heads")
    assert "refs/heads" in _tampered(repo, wt, "001-TS-A")
    refs.unlink()
    refs.mkdir()
    (wt / ".git" / "commondir").write_text(f"{repo / '.git'}\n")
    assert "commondir" in _tampered(repo, wt, "001-TS-A")
    assert git(repo, "rev-parse", "main", env=env) == main
    assert git(repo, "symbolic-ref", "HEAD", env=env) == "refs/heads/main"


def test_a_planted_core_worktree_leads_hatchdoits_git_nowhere(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    (repo / "users-notes.txt").write_text("the user's own, uncommitted\n")
    (wt / "agent.txt").write_text("the agent's\n")
    git(wt, "config", "core.worktree", str(repo), env=env)
    assert "users-notes.txt" in git(wt, "status", "--porcelain", env=env)  # git as planted
    assert dirty_paths(wt) == ["agent.txt"]  # hatchdoit's git: the workspace, always


def test_the_scripts_merge_in_the_clone_whatever_its_core_worktree_says(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    dep = Path(create(repo, root, "001-TS-DEP", env).stdout.strip())
    commit_file(dep, "dep.py", "DEP = True\n", env)
    take(repo, dep, "001-TS-DEP")
    wt = Path(create(repo, root, "002-TS-USER", env).stdout.strip())
    git(wt, "config", "core.worktree", str(repo), env=env)  # the user's checkout
    merged = create(repo, root, "002-TS-USER", env, "--merge", "taskspec/001-TS-DEP")
    assert merged.returncode == 0, merged.stderr
    assert (wt / "dep.py").read_text() == "DEP = True\n"
    assert not (repo / "dep.py").exists()
    assert git(repo, "status", "--porcelain", env=env) == ""


def test_a_person_commit_on_the_repo_branch_is_caught_up_not_rewound(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    mine = commit_file(wt, "feature.py", "x = 1\n", env)
    take(repo, wt, "001-TS-A")
    git(repo, "checkout", "-q", "taskspec/001-TS-A", env=env)  # a person commits there
    person = commit_file(repo, "person.py", "p = 1\n", env)
    git(repo, "checkout", "-q", "main", env=env)
    kept = take_branch(repo, wt, "001-TS-A", rewind=False)  # approve --commit: nothing moves
    assert (kept.old, kept.new) == (person, person)
    assert catch_up(repo, wt, "001-TS-A")  # before the next session: the clone follows
    assert git(wt, "rev-parse", "HEAD", env=env) == person and (wt / "person.py").is_file()
    assert not catch_up(repo, wt, "001-TS-A")
    assert git(repo, "merge-base", "--is-ancestor", mine, person, env=env) == ""


def test_a_graft_in_the_clone_does_not_hide_a_rewrite_of_the_branch(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    """The agent rewrites its branch and grafts the target's tip under its commit (`git replace
    --graft`), so that in its clone the old tip looks contained: the old tip is still kept."""
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    first = commit_file(wt, "feature.py", "x = 1\n", env)
    assert take(repo, wt, "001-TS-A") == first
    git(wt, "reset", "-q", "--hard", "HEAD~1", env=env)
    other = commit_file(wt, "other.py", "y = 2\n", env)
    git(wt, "replace", "--graft", other, first, env=env)
    taken = take_branch(repo, wt, "001-TS-A")
    assert taken.new == other
    assert taken.kept == f"refs/hatchdoit/replaced/001-TS-A/{first}"
    assert git(repo, "rev-parse", taken.kept, env=env) == first


def test_remove_and_unsaved_work_count_a_clones_other_branches_and_stash(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    """A person committed on a branch of their own in the clone and stashed work there: neither
    exists in the target, so the clone is not removed without --force."""
    from hatchdoit.delivery.retire import unsaved_work

    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    git(wt, "checkout", "-q", "-b", "experiment", env=env)
    commit_file(wt, "experiment.py", "z = 3\n", env)
    git(wt, "checkout", "-q", "taskspec/001-TS-A", env=env)
    assert unsaved_work(repo, wt).commits == 1
    refused = remove(repo, root, "001-TS-A", env)
    assert refused.returncode == 4 and "lacks" in refused.stderr, refused.stderr
    git(wt, "branch", "-q", "-D", "experiment", env=env)
    (wt / "README.md").write_text("stashed change\n")
    git(wt, "add", "README.md", env=env)
    git(wt, "stash", "-q", env=env)
    assert unsaved_work(repo, wt).commits >= 1
    assert remove(repo, root, "001-TS-A", env).returncode == 4
    assert wt.is_dir()


def test_a_nested_repo_in_the_clone_runs_no_filter_of_its_own(
    repo: Path, root: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """The agent stages a nested repo whose own config names a clean filter: hatchdoit's
    `git status` in the workspace does not enter it, so the filter never runs."""
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    ran = tmp_path / "ran"
    sub = wt / "sub"
    subprocess.run(["git", "init", "-q", str(sub)], env=env, check=True)
    (sub / "f.txt").write_text("one\n")
    git(sub, "add", "f.txt", env=env)
    git(sub, "commit", "-q", "-m", "sub", env=env)
    git(wt, "add", "sub", env=env)
    git(sub, "config", "filter.x.clean", f"sh -c 'touch {ran}; cat'", env=env)
    (sub / ".gitattributes").write_text("* filter=x\n")
    (sub / "f.txt").write_text("two\n")
    dirty_paths(wt)
    assert not ran.exists(), "a filter of the nested repo ran"
