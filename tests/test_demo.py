"""The README's first command: `doit` on the bundled demo, in a copy of this checkout.

The copy holds the checkout's tracked and untracked-but-not-ignored files (what `git status`
would commit), made a git repo of its own, so it is what a fresh clone has in CI and what the
working tree has locally (a `git clone` would miss uncommitted changes that the rest of the suite
tests). It runs with its own HOME and a tmux server on a private socket, killed at teardown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_logs_parse, events, git, run_doit, tree_hashes
from projects import CHECKOUT, IDENTITY, HatchProject

from hatchdoit.records.models import DoneRecord, VerdictRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration

REJECTED_ONCE = "003-TS-2025-08-18-TRUNCATE"  # `scripted: {qa: reject-once}` in its front matter
# What a commit of the working tree would hold: tracked files plus untracked, not ignored ones.
LS_FILES = ("ls-files", "-z", "--cached", "--others", "--exclude-standard")


def demo_ids(root: Path) -> list[str]:
    """The demo's TaskSpec ids (each file is named after its id)."""
    return sorted(p.stem for p in (root / "demo/planning/_specs/taskspecs").glob("*.md"))


def copy_checkout(dest: Path) -> None:
    """Copy the checkout's files a commit would hold into `dest`, keeping symlinks and modes."""
    listed = subprocess.run(
        ["git", "-C", str(CHECKOUT), *LS_FILES],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip(f"{CHECKOUT} is not a git checkout: {listed.stderr.strip()}")
    for rel in filter(None, listed.stdout.split("\0")):
        source = CHECKOUT / rel
        if not os.path.lexists(source):
            continue  # deleted in the working tree, not yet committed
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[HatchProject]:
    """The demo project in tmp_path/checkout, with a clean environment and a private tmux socket."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    root = tmp_path / "checkout"
    copy_checkout(root)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATCHDOIT_")}
    for name in ("TMUX", "TMUX_PANE", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    socket = f"hd-demo-{uuid.uuid4().hex[:12]}"
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        PYTHONDONTWRITEBYTECODE="1",
        TMUX_TMPDIR=tempfile.mkdtemp(prefix="hdt-"),  # short: socket paths are limited
        HATCHDOIT__TMUX_SOCKET=socket,  # instead of the demo's hatchdoit-demo
        **IDENTITY,
    )
    git(root, "init", "-q", env=env)
    git(root, "add", "-A", env=env)
    git(root, "commit", "-q", "-m", "checkout", env=env)
    project = HatchProject(
        root=root,
        planning=root / "demo" / "planning",
        seed=root / "demo" / "target",
        socket=socket,
        env=env,
    )
    try:
        yield project
    finally:
        project.tmux("kill-server")
        shutil.rmtree(env["TMUX_TMPDIR"], ignore_errors=True)


def test_demo_builds_and_a_second_doit_is_a_no_op(demo: HatchProject) -> None:
    ids = demo_ids(demo.root)
    assert len(ids) == 5, ids
    planning_before = tree_hashes(demo.planning)

    first = run_doit(demo, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr

    layout = demo.layout
    for tid in ids:
        assert not layout.escalated(tid).exists(), tid
        done = load_valid(layout.done(tid), DoneRecord)
        assert done.taskspec_id == tid
        assert done.branch == f"taskspec/{tid}"
        expected = 2 if tid == REJECTED_ONCE else 1
        assert done.attempt == expected, (tid, done.attempt)
    rejected = load_valid(layout.verdict(REJECTED_ONCE, 1), VerdictRecord)
    approved = load_valid(layout.verdict(REJECTED_ONCE, 2), VerdictRecord)
    assert (rejected.verdict, approved.verdict) == ("rejected", "approved")
    verdicts = [(e["taskspec_id"], e["decision"]) for e in events(demo, "verdict")]
    assert verdicts.count((REJECTED_ONCE, "rejected")) == 1
    assert [d for t, d in verdicts if t != REJECTED_ONCE] == ["approved"] * (len(ids) - 1)
    assert_logs_parse(demo)
    # delivered: every approved branch merged into _target's main, whose own tests pass there
    target = demo.root / "_target"
    merged = git(target, "branch", "--merged", env=demo.env)
    assert all(f"taskspec/{tid}" in merged for tid in ids), merged
    assert git(target, "status", "--porcelain", env=demo.env) == ""
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target,
        env=demo.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr

    launches = len(events(demo, "launch"))
    second = run_doit(demo, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(events(demo, "launch")) == launches, "a second doit launched an agent"
    started = [line for line in second.stdout.splitlines() if line.startswith(".")]
    assert not started, "a second doit ran steps:\n" + "\n".join(started)

    listing = run_doit(demo, "list", "--all", "--status")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    lines = listing.stdout.splitlines()
    for tid in ids:
        assert f"U taskspec:{tid}" in {" ".join(line.split()[:2]) for line in lines}, tid
    not_up_to_date = [line for line in lines if not line.startswith("U ")]
    assert lines and not not_up_to_date, "\n".join(not_up_to_date)
    # plain `doit list` (pyproject.toml: subtasks, status, sort by definition) leads with them
    names = [line.split()[1] for line in run_doit(demo, "list").stdout.splitlines()]
    assert names[: len(ids) + 1] == ["taskspec", *(f"taskspec:{tid}" for tid in ids)], names
    assert "integrate" in names

    assert tree_hashes(demo.planning) == planning_before, "the run wrote into the planning repo"
    assert git(demo.root, "status", "--porcelain", env=demo.env) == "", "the run dirtied the repo"
