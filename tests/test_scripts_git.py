"""scripts/git/: create_worktree.sh (a clone sharing the repo's objects on a branch from a base,
reuse, restore a lost branch, merge dependency branches, an older linked worktree reused, refuse
bad ids and foreign directories) and remove_worktree.sh (clean, dirty, work not taken, forced,
missing, outside the root), on real git repos in tmp_path. What the clone commits reaches the
repo through hatchdoit's take_branch (run/workspace_sync.py), as in a build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from script_harness import CREATE, IDENTITY, REMOVE, env, root, run

from hatchdoit.run.workspace_sync import take_branch

pytestmark = pytest.mark.integration

__all__ = ["env", "root"]  # fixtures


@pytest.fixture
def no_identity_env(env: dict[str, str]) -> dict[str, str]:
    """The clean environment without any git identity."""
    return {k: v for k, v in env.items() if k not in IDENTITY} | {"EMAIL": ""}


def git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit_file(repo: Path, name: str, text: str, env: dict[str, str]) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name, env=env)
    git(repo, "commit", "-q", "-m", f"write {name}", env=env)
    return git(repo, "rev-parse", "HEAD", env=env)


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> Path:
    path = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], env=env, check=True)
    commit_file(path, "README.md", "hello\n", env)
    return path


def create(
    repo: Path, root: Path, ts_id: str, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return run(
        CREATE,
        "--repo",
        repo,
        "--worktrees-root",
        root,
        "--id",
        ts_id,
        "--base",
        "main",
        *extra,
        env=env,
    )


def take(repo: Path, wt: Path, ts_id: str) -> str | None:
    """What hatchdoit does after an agent's session: the clone's branch into the repo."""
    return take_branch(repo, wt, ts_id).new


def is_clone(repo: Path, wt: Path) -> bool:
    alternates = wt / ".git" / "objects" / "info" / "alternates"
    return (wt / ".git").is_dir() and alternates.read_text().strip() == str(
        (repo / ".git" / "objects").resolve()
    )


def registered(repo: Path, env: dict[str, str]) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain", env=env)
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


# --- create_worktree.sh ----------------------------------------------------------------------


def test_create_worktree_makes_branch_from_base(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    base = git(repo, "rev-parse", "main", env=env)
    result = create(repo, root, "001-TS-A", env)
    assert result.returncode == 0, result.stderr
    wt = root.resolve() / "001-TS-A"
    assert result.stdout.splitlines()[-1] == str(wt)
    assert result.stdout.strip() == str(wt)  # git chatter stays on stderr
    assert git(wt, "symbolic-ref", "--short", "HEAD", env=env) == "taskspec/001-TS-A"
    assert git(wt, "rev-parse", "HEAD", env=env) == base
    assert (wt / "README.md").read_text() == "hello\n"
    assert is_clone(repo, wt) and str(wt) not in registered(repo, env)
    assert git(repo, "rev-parse", "taskspec/001-TS-A", env=env) == base  # made in the repo too
    assert git(wt, "for-each-ref", "--format=%(refname)", "refs/heads", env=env) == (
        "refs/heads/taskspec/001-TS-A"
    )


def test_create_worktree_rerun_reuses_it(repo: Path, root: Path, env: dict[str, str]) -> None:
    first = create(repo, root, "001-TS-A", env)
    wt = Path(first.stdout.strip())
    (wt / "work.txt").write_text("agent work in progress\n")
    second = create(repo, root, "001-TS-A", env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == first.stdout.strip()
    assert (wt / "work.txt").read_text() == "agent work in progress\n"
    assert is_clone(repo, wt)


def test_create_worktree_reuses_existing_branch(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    head = commit_file(wt, "feature.py", "x = 1\n", env)
    assert take(repo, wt, "001-TS-A") == head
    assert (
        run(
            REMOVE, "--repo", repo, "--worktrees-root", root, "--id", "001-TS-A", env=env
        ).returncode
        == 0
    )
    again = create(repo, root, "001-TS-A", env)
    assert again.returncode == 0, again.stderr
    assert git(wt, "rev-parse", "HEAD", env=env) == head


def remove_and_delete_branch(repo: Path, root: Path, ts_id: str, env: dict[str, str]) -> None:
    removed = run(REMOVE, "--repo", repo, "--worktrees-root", root, "--id", ts_id, env=env)
    assert removed.returncode == 0, removed.stderr
    git(repo, "branch", "-D", f"taskspec/{ts_id}", env=env)


def test_create_worktree_restores_a_lost_branch_at_the_given_commit(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    approved = commit_file(wt, "feature.py", "x = 1\n", env)
    take(repo, wt, "001-TS-A")
    remove_and_delete_branch(repo, root, "001-TS-A", env)

    result = create(repo, root, "001-TS-A", env, "--restore", approved)
    assert result.returncode == 0, result.stderr
    assert "branch taskspec/001-TS-A is missing: restoring it at " + approved in result.stderr
    assert git(repo, "rev-parse", "taskspec/001-TS-A", env=env) == approved
    assert git(wt, "symbolic-ref", "--short", "HEAD", env=env) == "taskspec/001-TS-A"
    assert (wt / "feature.py").read_text() == "x = 1\n"


def test_create_worktree_restore_leaves_an_existing_branch_alone(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    older = commit_file(wt, "feature.py", "x = 1\n", env)
    newer = commit_file(wt, "feature.py", "x = 2\n", env)
    take(repo, wt, "001-TS-A")
    again = create(repo, root, "001-TS-A", env, "--restore", older)
    assert again.returncode == 0, again.stderr
    assert "restoring" not in again.stderr
    assert git(wt, "rev-parse", "HEAD", env=env) == newer


@pytest.mark.parametrize("commit", ["main", "abc123", "0" * 40, "--help"])
def test_create_worktree_restore_needs_a_full_id_of_a_commit(
    repo: Path, root: Path, env: dict[str, str], commit: str
) -> None:
    result = create(repo, root, "001-TS-A", env, "--restore", commit)
    assert result.returncode == 2
    assert result.stderr.startswith("create_worktree.sh: error: ")
    assert not root.exists()
    assert git(repo, "branch", "--list", "taskspec/*", env=env) == ""


def test_create_worktree_merges_dependency_branch(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    dep = Path(create(repo, root, "001-TS-DEP", env).stdout.strip())
    dep_head = commit_file(dep, "dep.py", "DEP = True\n", env)
    take(repo, dep, "001-TS-DEP")
    result = create(repo, root, "002-TS-USER", env, "--merge", "taskspec/001-TS-DEP")
    assert result.returncode == 0, result.stderr
    wt = Path(result.stdout.strip())
    assert (wt / "dep.py").read_text() == "DEP = True\n"
    parents = git(wt, "rev-list", "--parents", "-n", "1", "HEAD", env=env).split()
    assert dep_head in parents[1:] and len(parents) == 3  # a real merge commit (--no-ff)
    head = git(wt, "rev-parse", "HEAD", env=env)
    rerun = create(repo, root, "002-TS-USER", env, "--merge", "taskspec/001-TS-DEP")
    assert rerun.returncode == 0, rerun.stderr
    assert git(wt, "rev-parse", "HEAD", env=env) == head  # already an ancestor: no new merge


def test_create_worktree_merges_without_git_identity(
    repo: Path, root: Path, env: dict[str, str], no_identity_env: dict[str, str]
) -> None:
    dep = Path(create(repo, root, "001-TS-DEP", env).stdout.strip())
    commit_file(dep, "dep.py", "DEP = True\n", env)
    take(repo, dep, "001-TS-DEP")
    result = create(repo, root, "002-TS-USER", no_identity_env, "--merge", "taskspec/001-TS-DEP")
    assert result.returncode == 0, result.stderr
    wt = Path(result.stdout.strip())
    assert git(wt, "log", "-1", "--format=%an <%ae>", env=env) == "hatchdoit <hatchdoit@localhost>"


def test_create_worktree_conflict_exits_3_and_aborts(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    dep = Path(create(repo, root, "001-TS-DEP", env).stdout.strip())
    commit_file(dep, "README.md", "from dependency\n", env)
    take(repo, dep, "001-TS-DEP")
    wt = Path(create(repo, root, "002-TS-USER", env).stdout.strip())
    head = commit_file(wt, "README.md", "from user\n", env)
    result = create(repo, root, "002-TS-USER", env, "--merge", "taskspec/001-TS-DEP")
    assert result.returncode == 3
    assert "create_worktree.sh: conflict merging taskspec/001-TS-DEP: README.md" in result.stderr
    assert git(wt, "rev-parse", "HEAD", env=env) == head
    assert git(wt, "status", "--porcelain", env=env) == ""
    merge_head = subprocess.run(
        ["git", "-C", str(wt), "rev-parse", "-q", "--verify", "MERGE_HEAD"],
        env=env,
        capture_output=True,
    )
    assert merge_head.returncode != 0  # the merge was aborted


@pytest.mark.parametrize(
    "bad_id", ["a..b", "a/b", "a;b", "-x", ".hidden", "a b", "x" * 129, "$(id)"]
)
def test_create_worktree_refuses_bad_ids(
    repo: Path, root: Path, env: dict[str, str], bad_id: str
) -> None:
    result = create(repo, root, bad_id, env)
    assert result.returncode == 2
    assert result.stderr.startswith("create_worktree.sh: error: invalid id")
    assert not root.exists()
    assert git(repo, "branch", "--list", "taskspec/*", env=env) == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--worktrees-root", "R", "--id", "A", "--base", "main"],
        ["--repo", "{repo}", "--worktrees-root", "R", "--id", "A"],
        ["--repo", "{repo}", "--worktrees-root", "R", "--id", "A", "--base", "no-such-ref"],
        ["--repo", "{repo}", "--worktrees-root", "R", "--id", "A", "--base", "--help"],
        [
            "--repo",
            "{repo}",
            "--worktrees-root",
            "R",
            "--id",
            "A",
            "--base",
            "main",
            "--merge",
            "nope",
        ],
        ["--repo", "{repo}", "--worktrees-root", "R", "--id"],
    ],
)
def test_create_worktree_validates_arguments(
    repo: Path, env: dict[str, str], args: list[str]
) -> None:
    result = run(CREATE, *(a.format(repo=repo) for a in args), env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("create_worktree.sh: error: ")


def test_create_worktree_refuses_symlink_escaping_root(
    repo: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "001-TS-A").symlink_to(outside)
    result = create(repo, root, "001-TS-A", env)
    assert result.returncode == 4
    assert "outside" in result.stderr
    assert list(outside.iterdir()) == []


def test_create_worktree_refuses_foreign_directory(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    (root / "001-TS-A").mkdir(parents=True)
    (root / "001-TS-A" / "keep.txt").write_text("mine\n")
    result = create(repo, root, "001-TS-A", env)
    assert result.returncode == 4
    assert "neither a clone nor a worktree" in result.stderr
    assert (root / "001-TS-A" / "keep.txt").read_text() == "mine\n"


def test_create_worktree_refuses_worktree_on_other_branch(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    root.mkdir()
    git(repo, "worktree", "add", "-q", "-b", "other", str(root / "001-TS-A"), "main", env=env)
    result = create(repo, root, "001-TS-A", env)
    assert result.returncode == 4
    assert "refs/heads/other" in result.stderr


# --- remove_worktree.sh ----------------------------------------------------------------------


def remove(
    repo: Path, root: Path, ts_id: str, env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return run(REMOVE, "--repo", repo, "--worktrees-root", root, "--id", ts_id, *extra, env=env)


def test_remove_worktree_clean(repo: Path, root: Path, env: dict[str, str]) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    result = remove(repo, root, "001-TS-A", env, "--delete-branch")
    assert result.returncode == 0, result.stderr
    assert not wt.exists()
    assert str(wt) not in registered(repo, env)
    assert git(repo, "branch", "--list", "taskspec/001-TS-A", env=env) == ""


def test_remove_worktree_keeps_branch_by_default(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    create(repo, root, "001-TS-A", env)
    assert remove(repo, root, "001-TS-A", env).returncode == 0
    assert "taskspec/001-TS-A" in git(repo, "branch", "--list", "taskspec/001-TS-A", env=env)


def test_remove_worktree_refuses_dirty(repo: Path, root: Path, env: dict[str, str]) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    (wt / "unsaved.py").write_text("work\n")
    result = remove(repo, root, "001-TS-A", env, "--delete-branch")
    assert result.returncode == 4
    assert "uncommitted changes" in result.stderr
    assert (wt / "unsaved.py").read_text() == "work\n"
    assert git(repo, "branch", "--list", "taskspec/001-TS-A", env=env) != ""


def test_remove_worktree_force_removes_dirty(repo: Path, root: Path, env: dict[str, str]) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    (wt / "README.md").write_text("modified\n")
    (wt / "unsaved.py").write_text("work\n")
    result = remove(repo, root, "001-TS-A", env, "--force")
    assert result.returncode == 0, result.stderr
    assert not wt.exists()
    assert str(wt) not in registered(repo, env)


def test_remove_worktree_refuses_non_worktree(repo: Path, root: Path, env: dict[str, str]) -> None:
    (root / "001-TS-A").mkdir(parents=True)
    (root / "001-TS-A" / "keep.txt").write_text("mine\n")
    result = remove(repo, root, "001-TS-A", env, "--force")
    assert result.returncode == 4
    assert "neither a clone nor a registered worktree" in result.stderr
    assert (root / "001-TS-A" / "keep.txt").read_text() == "mine\n"


def test_remove_worktree_refuses_symlink_outside_root(
    repo: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    elsewhere = Path(create(repo, tmp_path / "elsewhere", "001-TS-A", env).stdout.strip())
    root.mkdir()
    (root / "001-TS-A").symlink_to(elsewhere)
    result = remove(repo, root, "001-TS-A", env, "--force")
    assert result.returncode == 4
    assert elsewhere.is_dir() and is_clone(repo, elsewhere)


def test_remove_worktree_missing_is_idempotent_and_prunes(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    shutil.rmtree(wt)  # stale registration left behind
    result = remove(repo, root, "001-TS-A", env)
    assert result.returncode == 0, result.stderr
    assert str(wt) not in registered(repo, env)
    assert remove(repo, root, "001-TS-A", env).returncode == 0
    assert remove(repo, root, "never-created", env).returncode == 0


def test_remove_worktree_refuses_bad_id(repo: Path, root: Path, env: dict[str, str]) -> None:
    result = remove(repo, root, "../repo", env, "--force")
    assert result.returncode == 2
    assert (repo / "README.md").exists()
