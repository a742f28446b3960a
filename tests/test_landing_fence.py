"""A landing on the remote in a shared build (delivery/landing_fence.py, landing_target.py):
fenced by the runner's claim in the same atomic push (a claim taken over: not landed; a renewal
racing the landing: landed), and carrying `refs/hatchdoit/landed/<ID>`, so a runner that takes
the TaskSpec over without the first runner's records finds the landing and does not merge again.
Real git, a bare `origin`, two clones; the last test runs real doit, tmux and the scripted
agent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import git, read_json
from projects import HatchProject
from test_land_on_remote import barrier, machine, make_origin, on_origin, run, runs

from hatchdoit.core.errors import StepError
from hatchdoit.delivery.landing_fence import FENCE_ENV, LANDED, write_fence
from hatchdoit.delivery.landing_target import BranchTarget, ProtectedBranch
from hatchdoit.project import load_project
from hatchdoit.run.context import StepContext
from hatchdoit.shared.remote_refs import CLAIMS, Remote, Update


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[HatchProject]]:
    origin = make_origin(tmp_path)
    made = [machine(tmp_path, name, origin) for name in ("m1", "m2")]
    for key, value in made[0].env.items():
        if key.startswith("GIT_") or key in ("HOME", "XDG_CONFIG_HOME"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("HATCHDOIT_LAND_ON", "remote")
    monkeypatch.setenv(FENCE_ENV, "1")
    for project in made:
        project.add_taskspec("A")
    return origin, made


def target_of(project: HatchProject) -> BranchTarget:
    return BranchTarget(StepContext(load_project(project.root), "A"), "main")


def landing(project: HatchProject, tip: str, approved: str) -> str:
    """The commit a landing of A builds on `tip` (its trailers name `approved`)."""
    message = f"A\n\nHatchdoit-TaskSpec: A\nHatchdoit-Approved: {approved}\n"
    tree = git(project.target, "rev-parse", f"{tip}^{{tree}}").strip()
    return git(project.target, "commit-tree", tree, "-p", tip, "-m", message).strip()


def claim(project: HatchProject, parent: str | None, expected: str | None) -> str:
    remote = Remote(project.target, "origin")
    sha = remote.commit({"claim.json": b"{}"}, "claim A", parent)
    assert remote.push([Update(CLAIMS + "A", sha, expected)])
    return sha


def test_a_landing_is_fenced_by_the_claim_and_leaves_its_landed_ref(two: tuple) -> None:
    origin, (one, other) = two
    mine = claim(one, None, None)
    write_fence(one.layout, "A", mine)
    target = target_of(one)
    tip = target.tip()
    renewed = claim(one, mine, mine)  # the runner renewed meanwhile: still ours
    new = landing(one, tip, "a" * 40)
    assert target.swap(new, tip, "A")
    assert git(origin, "rev-parse", "main").strip() == new
    assert git(origin, "rev-parse", f"{LANDED}A").strip() == new
    # another clone sees it landed (its records never arrived), for the same approved commit
    theirs = target_of(other)
    now = theirs.tip()
    assert theirs.landed_elsewhere("A", "a" * 40, now) == new
    assert theirs.landed_elsewhere("A", "b" * 40, now) is None, "another approval: not landed"
    # taken over: the claim is a new root commit of another runner's
    claim(other, None, renewed)
    write_fence(one.layout, "A", renewed)
    tip = target.tip()
    with pytest.raises(StepError, match="the claim on A was lost"):
        target.swap(landing(one, tip, "c" * 40), tip, "A")
    assert git(origin, "rev-parse", "main").strip() == new, "not landed"
    write_fence(one.layout, "A", None)  # released: no landing either
    with pytest.raises(StepError, match="the claim on A was lost"):
        target.swap(landing(one, tip, "c" * 40), tip, "A")


@pytest.mark.integration
def test_a_taker_without_the_first_runners_records_does_not_land_again(
    tmp_path: Path, two: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first runner pushed A's landing and died before its records reached the remote:
    the runner that goes on from the remote's records (no intent of that landing) finds the
    landed ref and records the landing; nothing is merged, tested or pushed again."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    monkeypatch.delenv(FENCE_ENV)
    origin, (one, _) = two
    shared = tmp_path / "shared"
    shared.mkdir()
    one.configure(integrate="merge", integration={"test_command": barrier(shared, "A", [])})
    try:
        killed = run(one, HATCHDOIT_FAULT="integrate.after_update_ref@A")
        out = killed.communicate(timeout=300)[0]
        assert killed.returncode == -9, out
        [pushed] = on_origin(origin, "A")
        one.layout.integration_intent("A").unlink()  # the taker's view: no intent of it
        again = run(one)
        out = again.communicate(timeout=300)[0]
        assert again.returncode == 0, out
    finally:
        one.tmux("kill-server")
    assert on_origin(origin, "A") == [pushed], "not landed twice"
    assert runs(shared, "A") == 1, "not merged and tested again"
    record = read_json(one.layout.integration("A"))
    assert record["outcome"] == "integrated" and record["landed_commit"] == pushed
    assert subprocess.run(["git", "-C", str(origin), "rev-parse", f"{LANDED}A"],
                          capture_output=True, text=True).stdout.strip() == pushed  # fmt: skip


def test_a_push_denied_without_a_porcelain_line_says_merge_modes_cannot_push_there(
    two: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 403 from an https remote ends the push before any ref is reported: the same one line
    as a protected branch."""
    _, (one, _) = two
    monkeypatch.delenv(FENCE_ENV)
    denied = tmp_path / "denied-ssh"
    denied.write_text("#!/bin/sh\necho \"fatal: unable to access 'https://example.invalid/r.git/':"
                      " The requested URL returned error: 403\" >&2\nexit 128\n")  # fmt: skip
    denied.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(denied))
    target = target_of(one)
    tip = target.tip()
    git(one.target, "remote", "set-url", "origin", "ssh://example.invalid/r.git")
    with pytest.raises(ProtectedBranch, match="merge modes cannot push there"):
        target.swap(landing(one, tip, "a" * 40), tip, "A")
