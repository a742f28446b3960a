"""Integration tests of scripts/: real git repos in tmp_path, a real tmux server per test."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hatchdoit.tmux import session_name

pytestmark = pytest.mark.integration

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
CREATE = SCRIPTS / "git" / "create_worktree.sh"
REMOVE = SCRIPTS / "git" / "remove_worktree.sh"
LAUNCH = SCRIPTS / "tmux" / "launch_session.sh"
CAPTURE = SCRIPTS / "tmux" / "capture_output.sh"
AGENT = SCRIPTS / "agent" / "launch_agent.sh"
FACTORY = SCRIPTS / "agent" / "launch_factory.sh"
QA = SCRIPTS / "agent" / "launch_qa.sh"
MONITOR = SCRIPTS / "agent" / "monitor_stop_hook.sh"
MOUNT = SCRIPTS / "mount" / "ensure_readonly_mount.sh"

ALL_SCRIPTS = [CREATE, REMOVE, LAUNCH, CAPTURE, AGENT, FACTORY, QA, MONITOR, MOUNT]
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
}

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def retry_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll predicate until true; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s: {predicate}")
        time.sleep(0.05)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: own HOME, no user or system git config, no outer tmux."""
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "TMUX"))}
    clean.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        LC_ALL="C",
        **IDENTITY,
    )
    return clean


@pytest.fixture
def no_identity_env(env: dict[str, str]) -> dict[str, str]:
    """The clean environment without any git identity."""
    return {k: v for k, v in env.items() if k not in IDENTITY} | {"EMAIL": ""}


def git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def run(
    script: Path, *args: str | Path, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *map(str, args)],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=30,
    )


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


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "_worktrees"


@pytest.fixture
def socket_name(env: dict[str, str]) -> Iterator[str]:
    """A private tmux socket per test, in a short-lived socket directory; its server is killed."""
    socket_dir = tempfile.mkdtemp(prefix="hdtmux-")  # short: socket paths are limited to ~100 bytes
    env["TMUX_TMPDIR"] = socket_dir
    name = f"hdtest-{uuid.uuid4().hex[:12]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], env=env, capture_output=True)
    shutil.rmtree(socket_dir, ignore_errors=True)


def tmux(socket: str, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


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


def registered(repo: Path, env: dict[str, str]) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain", env=env)
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


# --- common rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_strict_executables(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert os.access(script, os.X_OK)
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert "eval" not in script.read_text().split()


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.name)
def test_unknown_option_is_a_one_line_usage_error(script: Path, env: dict[str, str]) -> None:
    result = run(script, "--no-such-option", env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        f"{SCRIPTS.joinpath('agent/launch_agent.sh').name}: error: "
        if script in (FACTORY, QA)
        else f"{script.name}: error: "
    )


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.name)
def test_a_hostile_argument_is_printed_quoted(script: Path, env: dict[str, str]) -> None:
    """Newlines and escape sequences in what the caller passed never reach the terminal raw."""
    result = run(script, "--x\nforged: line\x1b]0;title\x07\x1b[2J", env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr, repr(result.stderr)
    assert "$'--x\\nforged: line\\E]0;title\\a\\E[2J'" in result.stderr  # bash printf %q


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
    assert str(wt) in registered(repo, env)


def test_create_worktree_rerun_reuses_it(repo: Path, root: Path, env: dict[str, str]) -> None:
    first = create(repo, root, "001-TS-A", env)
    wt = Path(first.stdout.strip())
    (wt / "work.txt").write_text("agent work in progress\n")
    second = create(repo, root, "001-TS-A", env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == first.stdout.strip()
    assert (wt / "work.txt").read_text() == "agent work in progress\n"
    assert registered(repo, env).count(str(wt)) == 1


def test_create_worktree_reuses_existing_branch(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    wt = Path(create(repo, root, "001-TS-A", env).stdout.strip())
    head = commit_file(wt, "feature.py", "x = 1\n", env)
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
    result = create(repo, root, "002-TS-USER", no_identity_env, "--merge", "taskspec/001-TS-DEP")
    assert result.returncode == 0, result.stderr
    wt = Path(result.stdout.strip())
    assert git(wt, "log", "-1", "--format=%an <%ae>", env=env) == "hatchdoit <hatchdoit@localhost>"


def test_create_worktree_conflict_exits_3_and_aborts(
    repo: Path, root: Path, env: dict[str, str]
) -> None:
    dep = Path(create(repo, root, "001-TS-DEP", env).stdout.strip())
    commit_file(dep, "README.md", "from dependency\n", env)
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
    assert "not a worktree" in result.stderr
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
    assert str(wt) in registered(repo, env)
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
    assert "not a registered worktree" in result.stderr
    assert (root / "001-TS-A" / "keep.txt").read_text() == "mine\n"


def test_remove_worktree_refuses_symlink_outside_root(
    repo: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    elsewhere = Path(create(repo, tmp_path / "elsewhere", "001-TS-A", env).stdout.strip())
    root.mkdir()
    (root / "001-TS-A").symlink_to(elsewhere)
    result = remove(repo, root, "001-TS-A", env, "--force")
    assert result.returncode == 4
    assert elsewhere.is_dir() and str(elsewhere) in registered(repo, env)


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


# --- launch_session.sh / capture_output.sh ---------------------------------------------------


def launch(
    socket: str, session: str, cwd: Path, env: dict[str, str], *args: str | Path
) -> subprocess.CompletedProcess[str]:
    return run(LAUNCH, "--socket", socket, "--session", session, "--cwd", cwd, *args, env=env)


def pane_field(socket: str, session: str, field: str, env: dict[str, str]) -> str:
    return tmux(socket, "list-panes", "-t", f"={session}:", "-F", f"#{{{field}}}", env=env).strip()


def dead_status(socket: str, session: str, env: dict[str, str]) -> str:
    """The dead pane's exit status. tmux built with libutempter can miss the SIGCHLD of a
    quickly exiting child (tmux issue #311), so nudge its server until it reaps the child."""
    server_pid = int(tmux(socket, "display-message", "-p", "#{pid}", env=env))
    status = ""

    def reaped() -> bool:
        nonlocal status
        os.kill(server_pid, signal.SIGCHLD)
        status = pane_field(socket, session, "pane_dead_status", env)
        return status != ""

    retry_until(reaped)
    return status


WRITE_ARGV = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"


@needs_tmux
def test_launch_session_runs_argv_literally(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "argv.json"
    tricky = [
        "two words",
        "$(touch pwned)",
        "`touch pwned2`",
        "a;touch pwned3",
        "*",
        "'\"",
        "$HOME",
    ]
    result = launch(
        socket_name, "ts-1", tmp_path, env, "--", sys.executable, "-c", WRITE_ARGV, out, *tricky
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ts-1"
    retry_until(out.exists)
    retry_until(lambda: pane_field(socket_name, "ts-1", "pane_dead", env) == "1")
    assert json.loads(out.read_text()) == tricky
    assert not any(tmp_path.glob("pwned*"))


@needs_tmux
def test_launch_session_single_word_is_not_a_shell_string(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    result = launch(socket_name, "ts-1", tmp_path, env, "--", "touch pwned")
    assert result.returncode == 0, result.stderr
    retry_until(lambda: pane_field(socket_name, "ts-1", "pane_dead", env) == "1")
    assert dead_status(socket_name, "ts-1", env) == "127"  # env: no program named "touch pwned"
    assert not (tmp_path / "pwned").exists()


@needs_tmux
def test_launch_session_passes_env_cwd_and_size(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "env.json"
    code = (
        "import json, os, sys; open(sys.argv[1], 'w').write(json.dumps("
        "[os.environ.get('HD_VALUE'), os.environ.get('HD_EMPTY'), os.getcwd()]))"
    )
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    result = launch(
        socket_name,
        "ts-env",
        workdir,
        env,
        "--env",
        "HD_VALUE=a b=$(c)",
        "--env",
        "HD_EMPTY=",
        "--width",
        "91",
        "--height",
        "27",
        "--",
        sys.executable,
        "-c",
        code,
        out,
    )
    assert result.returncode == 0, result.stderr
    retry_until(out.exists)
    assert json.loads(out.read_text()) == ["a b=$(c)", "", str(workdir.resolve())]
    assert pane_field(socket_name, "ts-env", "window_width", env) == "91"
    assert pane_field(socket_name, "ts-env", "window_height", env) == "27"


@needs_tmux
def test_launch_session_logs_pane_output(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    log = tmp_path / "logs dir" / "it's a log.txt"
    result = launch(
        socket_name,
        "ts-log",
        tmp_path,
        env,
        "--log",
        log,
        "--",
        sys.executable,
        "-c",
        "print('hello-from-pane')",
    )
    assert result.returncode == 0, result.stderr
    retry_until(lambda: log.exists() and "hello-from-pane" in log.read_text())


@needs_tmux
def test_launch_session_keeps_dead_pane(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    result = launch(
        socket_name,
        "ts-dead",
        tmp_path,
        env,
        "--",
        sys.executable,
        "-c",
        "print('last words'); raise SystemExit(7)",
    )
    assert result.returncode == 0, result.stderr
    retry_until(lambda: pane_field(socket_name, "ts-dead", "pane_dead", env) == "1")
    assert dead_status(socket_name, "ts-dead", env) == "7"
    out = tmp_path / "dead.txt"
    assert (
        run(
            CAPTURE, "--socket", socket_name, "--session", "ts-dead", "--out", out, env=env
        ).returncode
        == 0
    )
    assert "last words" in out.read_text()  # tmux scrolls it into history when the pane dies


@needs_tmux
def test_launch_session_refuses_duplicate(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    first = launch(socket_name, "ts-dup", tmp_path, env, "--", "sleep", "30")
    assert first.returncode == 0, first.stderr
    pid = pane_field(socket_name, "ts-dup", "pane_pid", env)
    second = launch(socket_name, "ts-dup", tmp_path, env, "--", "sleep", "31")
    assert second.returncode == 1
    assert "session ts-dup exists" in second.stderr
    assert pane_field(socket_name, "ts-dup", "pane_pid", env) == pid
    # a session whose name merely starts the same is a different session
    assert launch(socket_name, "ts-du", tmp_path, env, "--", "sleep", "30").returncode == 0


@needs_tmux
@pytest.mark.parametrize(
    "args",
    [
        ["--session", "bad name", "--", "true"],
        ["--session", "a:b", "--", "true"],
        ["--session", "ok", "--env", "1BAD=x", "--", "true"],
        ["--session", "ok", "--env", "NOEQUALS", "--", "true"],
        ["--session", "ok", "--width", "0", "--", "true"],
        ["--session", "ok", "--height", "abc", "--", "true"],
        ["--session", "ok"],
        ["--session", "ok", "--", "A=b"],
        ["--session", "ok", "sleep", "1"],
    ],
)
def test_launch_session_validates_arguments(
    socket_name: str, tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    result = run(LAUNCH, "--socket", socket_name, "--cwd", tmp_path, *args, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("launch_session.sh: error: ")
    probe = subprocess.run(
        ["tmux", "-L", socket_name, "list-sessions"], env=env, capture_output=True
    )
    assert probe.returncode != 0  # no server was started, so no session exists


@needs_tmux
def test_capture_output_writes_screen(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    code = (
        "import time; [print(f'line-{i}') for i in range(100)]; "
        "print('SCREEN-MARK', flush=True); time.sleep(30)"
    )
    launch(socket_name, "ts-cap", tmp_path, env, "--", sys.executable, "-c", code)
    retry_until(
        lambda: "SCREEN-MARK" in tmux(socket_name, "capture-pane", "-p", "-t", "=ts-cap:", env=env)
    )
    out = tmp_path / "captures" / "screen.txt"
    result = run(CAPTURE, "--socket", socket_name, "--session", "ts-cap", "--out", out, env=env)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "SCREEN-MARK" in text and "line-0" in text  # history beyond the 50-line screen
    assert [p.name for p in out.parent.iterdir()] == ["screen.txt"]
    short = run(
        CAPTURE,
        "--socket",
        socket_name,
        "--session",
        "ts-cap",
        "--out",
        out,
        "--lines",
        "0",
        env=env,
    )
    assert short.returncode == 0
    assert "SCREEN-MARK" in out.read_text() and "line-0" not in out.read_text()


@needs_tmux
def test_capture_output_missing_session(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "screen.txt"
    result = run(CAPTURE, "--socket", socket_name, "--session", "nope", "--out", out, env=env)
    assert result.returncode == 1
    assert "no session nope" in result.stderr
    assert not out.exists()
    bad = run(
        CAPTURE,
        "--socket",
        socket_name,
        "--session",
        "nope",
        "--out",
        out,
        "--lines",
        "-5",
        env=env,
    )
    assert bad.returncode == 2


def refuses_session(script: Path, name: str, socket: str, tmp: Path, env: dict[str, str]) -> bool:
    """Whether `script` refuses --session NAME; an accepted name fails later without a session:
    capture_output.sh finds no such session (1), launch_session.sh rejects --width 0."""
    if script == CAPTURE:
        result = run(script, "--socket", socket, "--session", name, "--out", tmp / "s", env=env)
        assert result.returncode in (1, 2), result.stderr
        return result.returncode == 2
    result = run(
        script,
        "--socket",
        socket,
        "--session",
        name,
        "--cwd",
        tmp,
        "--width",
        "0",
        "--",
        "true",
        env=env,
    )
    assert result.returncode == 2, result.stderr
    return "invalid --session" in result.stderr


@needs_tmux
@pytest.mark.parametrize("script", [LAUNCH, CAPTURE], ids=lambda p: p.name)
def test_session_names_follow_hatchdoits_rule(
    script: Path, socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """The scripts accept exactly the characters hatchdoit.tmux.session_name keeps, and no
    leading '-'; so every name hatchdoit makes is accepted and nothing tmux would rewrite is."""
    for char in map(chr, range(1, 128)):
        raw = f"A{char}B"
        kept = session_name(raw, "factory", 1) == f"{raw}-factory-1"
        refused = refuses_session(script, raw, socket_name, tmp_path, env)
        assert refused != kept, f"{script.name}: {raw!r} refused={refused}, hatchdoit keeps={kept}"
    for tid in ("001-TS.A", "x_y", "9"):
        assert not refuses_session(script, session_name(tid, "qa", 2), socket_name, tmp_path, env)
    for name in ("-rf", "--force", "-"):
        assert refuses_session(script, name, socket_name, tmp_path, env), name


# --- launch_agent.sh -------------------------------------------------------------------------


@pytest.fixture
def worktree(root: Path) -> Path:
    path = root / "001-TS-A"
    path.mkdir(parents=True)
    return path


def test_launch_agent_writes_exit_file(
    worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "hooks" / "factory-1.exit.json"
    code = "import os, sys; open('cwd.txt', 'w').write(os.getcwd()); sys.exit(3)"
    result = run(
        AGENT,
        "--role",
        "factory",
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        sys.executable,
        "-c",
        code,
        env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
    )
    assert result.returncode == 3
    assert (worktree / "cwd.txt").read_text() == str(worktree.resolve())
    record = json.loads(exit_file.read_text())
    assert record["exit_code"] == 3 and record["role"] == "factory"
    assert time.strptime(record["at"], "%Y-%m-%dT%H:%M:%SZ")
    assert [p.name for p in exit_file.parent.iterdir()] == ["factory-1.exit.json"]


@pytest.mark.parametrize(("wrapper", "role"), [(FACTORY, "factory"), (QA, "qa")])
def test_launch_wrappers_set_role(
    wrapper: Path, role: str, worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "exit.json"
    result = run(
        wrapper,
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        "true",
        env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(exit_file.read_text())["role"] == role
    assert json.loads(exit_file.read_text())["exit_code"] == 0


def test_launch_agent_passes_stdin_and_skips_empty_exit_file(
    worktree: Path, root: Path, env: dict[str, str]
) -> None:
    code = "import sys; open('stdin.txt', 'w').write(sys.stdin.read())"
    result = run(
        AGENT,
        "--role",
        "qa",
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        sys.executable,
        "-c",
        code,
        env=env | {"HATCHDOIT_EXIT_FILE": ""},
        input="the prompt\n",
    )
    assert result.returncode == 0, result.stderr
    assert (worktree / "stdin.txt").read_text() == "the prompt\n"
    assert sorted(p.name for p in worktree.iterdir()) == ["stdin.txt"]


def test_launch_agent_requires_exit_file_variable(
    worktree: Path, root: Path, env: dict[str, str]
) -> None:
    result = run(
        AGENT,
        "--role",
        "qa",
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        "touch",
        "ran",
        env={k: v for k, v in env.items() if k != "HATCHDOIT_EXIT_FILE"},
    )
    assert result.returncode == 2
    assert "HATCHDOIT_EXIT_FILE" in result.stderr
    assert not (worktree / "ran").exists()


def test_launch_agent_refuses_outside_root(root: Path, tmp_path: Path, env: dict[str, str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "escape").symlink_to(outside)
    exit_file = tmp_path / "exit.json"
    for target in (outside, root / "escape", root / ".." / "outside", root):
        result = run(
            AGENT,
            "--role",
            "factory",
            "--worktree",
            target,
            "--worktrees-root",
            root,
            "--",
            "touch",
            "ran",
            env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
        )
        assert result.returncode == 4, target
        assert "outside" in result.stderr
    assert not (outside / "ran").exists() and not (root / "ran").exists()
    assert not exit_file.exists()


@pytest.mark.parametrize("posix", [False, True], ids=["bash", "posix-mode"])
def test_launch_agent_forwards_sigterm(
    posix: bool, worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """In posix mode (POSIXLY_CORRECT) a trapped signal interrupts the script's reads too."""
    if posix:
        env = env | {"POSIXLY_CORRECT": "1"}
    exit_file = tmp_path / "exit.json"
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        "open('ready', 'w').close()\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [
            str(AGENT),
            "--role",
            "factory",
            "--worktree",
            str(worktree),
            "--worktrees-root",
            str(root),
            "--",
            sys.executable,
            "-c",
            code,
        ],
        env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
    )
    try:
        retry_until((worktree / "ready").exists)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 42
    finally:
        proc.kill()
    assert json.loads(exit_file.read_text())["exit_code"] == 42


def test_launch_agent_reports_child_killed_by_hup(
    worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "exit.json"
    code = "import time; open('ready', 'w').close(); time.sleep(30)"
    proc = subprocess.Popen(
        [
            str(AGENT),
            "--role",
            "qa",
            "--worktree",
            str(worktree),
            "--worktrees-root",
            str(root),
            "--",
            sys.executable,
            "-c",
            code,
        ],
        env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
    )
    try:
        retry_until((worktree / "ready").exists)
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=10) == 128 + signal.SIGHUP
    finally:
        proc.kill()
    assert json.loads(exit_file.read_text()) | {"at": ""} == {
        "exit_code": 128 + signal.SIGHUP,
        "at": "",
        "role": "qa",
    }


@needs_tmux
def test_agent_in_tmux_session_records_exit_when_session_killed(
    socket_name: str, worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "hooks" / "factory-1.exit.json"
    code = (
        "import time; open('ready', 'w').close(); open('got', 'w').write(input()); time.sleep(30)"
    )
    result = launch(
        socket_name,
        "ts-agent",
        worktree,
        env,
        "--env",
        f"HATCHDOIT_EXIT_FILE={exit_file}",
        "--",
        FACTORY,
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        sys.executable,
        "-c",
        code,
    )
    assert result.returncode == 0, result.stderr
    retry_until((worktree / "ready").exists)
    tmux(socket_name, "send-keys", "-t", "=ts-agent:", "-l", "typed answer", env=env)
    tmux(socket_name, "send-keys", "-t", "=ts-agent:", "Enter", env=env)
    got = worktree / "got"  # the agent's stdin is the pane, not /dev/null
    retry_until(lambda: got.exists() and got.read_text() == "typed answer")
    tmux(socket_name, "kill-session", "-t", "=ts-agent", env=env)
    retry_until(exit_file.exists)
    record = json.loads(exit_file.read_text())
    assert record["role"] == "factory" and record["exit_code"] == 128 + signal.SIGHUP


@needs_tmux
def test_agent_in_tmux_session_stops_on_ctrl_c(
    socket_name: str, worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "qa.exit.json"
    code = "import time; open('ready', 'w').close(); time.sleep(30)"
    launch(
        socket_name,
        "ts-qa",
        worktree,
        env,
        "--env",
        f"HATCHDOIT_EXIT_FILE={exit_file}",
        "--",
        QA,
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        sys.executable,
        "-c",
        code,
    )
    retry_until((worktree / "ready").exists)
    tmux(socket_name, "send-keys", "-t", "=ts-qa:", "C-c", env=env)
    retry_until(exit_file.exists)  # SIGINT reached the agent, which the script had not ignored
    assert json.loads(exit_file.read_text())["exit_code"] == 128 + signal.SIGINT


def test_launch_agent_keeps_status_when_agent_dies_before_trap(
    worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """Ctrl-C reaches the script and the agent together. When the agent is dead before the script
    handles its own SIGINT, bash's `wait` dropped the status (exit_code -1). Make that order the
    usual one: the script runs at idle priority on a CPU that a busy loop keeps, and repeat."""
    cpu = min(os.sched_getaffinity(0))
    busy = subprocess.Popen(
        [sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"]
    )
    ready = worktree / "ready"
    try:
        for attempt in range(20):
            exit_file = tmp_path / f"exit-{attempt}.json"
            ready.unlink(missing_ok=True)
            proc = subprocess.Popen(
                [
                    str(AGENT),
                    "--role",
                    "qa",
                    "--worktree",
                    str(worktree),
                    "--worktrees-root",
                    str(root),
                    "--",
                    "sh",
                    "-c",
                    ": >ready; exec sleep 30",
                ],
                env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
                start_new_session=True,  # a process group of its own, as in a tmux pane
            )
            try:
                retry_until(ready.exists)
                os.sched_setaffinity(proc.pid, {cpu})
                os.sched_setscheduler(proc.pid, os.SCHED_IDLE, os.sched_param(0))
                os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the pane does
                assert proc.wait(timeout=10) == 128 + signal.SIGINT, attempt
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            record = json.loads(exit_file.read_text())
            assert record["exit_code"] == 128 + signal.SIGINT, (attempt, record)
    finally:
        busy.kill()
        busy.wait()


def test_launch_agent_validates_arguments(worktree: Path, root: Path, env: dict[str, str]) -> None:
    base = ["--worktree", str(worktree), "--worktrees-root", str(root)]
    env = env | {"HATCHDOIT_EXIT_FILE": ""}
    for args in (
        ["--role", "builder", *base, "--", "true"],
        ["--role", "qa", *base],
        ["--role", "qa", "--worktree", str(worktree), "--", "true"],
        ["--role", "qa", "--role", "factory", *base, "--", "true"],
    ):
        result = run(AGENT, *args, env=env)
        assert result.returncode == 2, args
        assert result.stderr.startswith("launch_agent.sh: error: ")


# --- monitor_stop_hook.sh --------------------------------------------------------------------


def test_monitor_stop_hook_prints_file_when_it_appears(tmp_path: Path, env: dict[str, str]) -> None:
    stop = tmp_path / "hooks" / "factory-1.stop"
    stop.parent.mkdir()
    payload = '{"run_token": "abc", "reason": "stop"}\n'

    def write_later() -> None:
        time.sleep(0.3)
        tmp = stop.with_suffix(".tmp")
        tmp.write_text(payload)
        tmp.replace(stop)

    writer = threading.Thread(target=write_later)
    started = time.monotonic()
    writer.start()
    result = run(MONITOR, "--file", stop, "--timeout", "10", env=env)
    writer.join()
    assert result.returncode == 0, result.stderr
    assert result.stdout == payload
    assert time.monotonic() - started < 5


def test_monitor_stop_hook_times_out(tmp_path: Path, env: dict[str, str]) -> None:
    started = time.monotonic()
    result = run(MONITOR, "--file", tmp_path / "never.stop", "--timeout", "1", env=env)
    assert result.returncode == 124
    assert "timed out" in result.stderr and "never.stop" in result.stderr
    assert 0.9 <= time.monotonic() - started < 5
    assert run(MONITOR, "--file", tmp_path / "x", "--timeout", "soon", env=env).returncode == 2


# --- ensure_readonly_mount.sh ----------------------------------------------------------------


@pytest.fixture
def planning(tmp_path: Path) -> Path:
    path = tmp_path / "planning repo"
    (path / "_specs").mkdir(parents=True)
    (path / "_specs" / "001.md").write_text("---\nid: 001\n---\n")
    return path


def test_mount_creates_symlink_and_reports_json(
    planning: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    link = tmp_path / "exec" / "specs_link"
    result = run(MOUNT, "--path", link, "--source", planning, env=env)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.resolve() == planning.resolve()
    report = json.loads(result.stdout)
    assert report == {
        "path": str(link),
        "resolved": str(planning.resolve()),
        "mode": "symlink",
        "writable": True,
    }
    again = run(MOUNT, "--path", link, env=env)  # verify only
    assert again.returncode == 0 and json.loads(again.stdout) == report


def test_mount_reports_plain_directory(planning: Path, env: dict[str, str]) -> None:
    result = run(MOUNT, "--path", planning, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["mode"] == "directory"


def test_mount_missing_specs_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    empty = tmp_path / "not-a-planning-repo"
    empty.mkdir()
    link = tmp_path / "specs_link"
    result = run(MOUNT, "--path", link, "--source", empty, env=env)
    assert result.returncode == 1
    assert "has no _specs/ (fix:" in result.stderr
    assert result.stdout == ""


def test_mount_missing_path_without_source(tmp_path: Path, env: dict[str, str]) -> None:
    result = run(MOUNT, "--path", tmp_path / "specs_link", env=env)
    assert result.returncode == 1
    assert "does not exist (fix:" in result.stderr
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "gone")
    result = run(MOUNT, "--path", dangling, "--source", tmp_path, env=env)
    assert result.returncode == 1
    assert "does not resolve" in result.stderr
    assert (
        run(MOUNT, "--path", tmp_path / "x", "--source", tmp_path / "gone", env=env).returncode == 2
    )
    assert run(MOUNT, "--path", tmp_path / "x", "--bind", env=env).returncode == 2


def _can_bind_mount(tmp_path: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    src, dst = tmp_path / "probe-src", tmp_path / "probe-dst"
    src.mkdir()
    dst.mkdir()
    ok = (
        subprocess.run(["mount", "--bind", str(src), str(dst)], capture_output=True).returncode == 0
    )
    if ok:
        subprocess.run(["umount", str(dst)], check=True)
    return ok


def test_mount_bind_is_read_only_and_heals(
    planning: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    if not _can_bind_mount(tmp_path):
        pytest.skip("bind mounts need root and mount permission")
    view = tmp_path / "specs_view"
    try:
        result = run(MOUNT, "--path", view, "--source", planning, "--bind", env=env)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["mode"] == "bind" and report["writable"] is False
        assert (view / "_specs" / "001.md").exists()
        with pytest.raises(OSError):
            (view / "_specs" / "new.md").write_text("x")
        # the source vanishes and comes back: the stale mount is redone
        shutil.rmtree(planning)
        stale = run(MOUNT, "--path", view, env=env)
        assert stale.returncode == 1 and "stale mount" in stale.stderr
        (planning / "_specs").mkdir(parents=True)
        healed = run(MOUNT, "--path", view, "--source", planning, "--bind", env=env)
        assert healed.returncode == 0, healed.stderr
        assert "remounting" in healed.stderr
        assert json.loads(healed.stdout)["mode"] == "bind"
        assert list((view / "_specs").iterdir()) == []
    finally:
        while subprocess.run(["umount", str(view)], capture_output=True).returncode == 0:
            pass
