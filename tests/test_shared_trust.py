"""The remote's records as untrusted input (shared/snapshot_rules.py, state_sync.py), between
two "machines" (two layouts, two clones of one bare remote): a snapshot that writes outside its
TaskSpec's records, holds a symlink or a huge file is refused whole; with HATCHDOIT_SHARED_KEY a
snapshot without its seal is refused; the holder's push keeps a person's decision and never
rewrites the remote's branch; the local branch only fast-forwards; a claim that makes no sense
is shown as malformed; a running build's records are not overwritten."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from shared_machines import two_layouts

from hatchdoit.build.runlock import build_running
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.layout import Layout
from hatchdoit.records.decisions import read_decisions, write_decision
from hatchdoit.records.models import DecisionRecord
from hatchdoit.shared.claims import ClaimRecord, Claims
from hatchdoit.shared.remote_refs import BRANCHES, STATE, Remote, Update
from hatchdoit.shared.snapshot_rules import KEY_ENV, SnapshotRefused
from hatchdoit.shared.state_sync import BranchDiverged, materialise, push_state
from hatchdoit.shared.visibility import _until


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, input=stdin).stdout.strip()  # fmt: skip


@pytest.fixture
def machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Layout, Layout, Path]:
    monkeypatch.delenv(KEY_ENV, raising=False)
    return two_layouts(tmp_path, monkeypatch)


def remote(layout: Layout) -> Remote:
    return Remote(layout.root / "_target", "origin")


def plant(layout: Layout, files: dict[str, bytes], tree: str | None = None) -> str:
    """Push a snapshot of T made by hand (as anyone with push rights can) from `layout`."""
    r = remote(layout)
    sha = r.commit(files, "state of T\n\nrunner: mallory\n", None)
    if tree is not None:
        sha = git(r.repo, "commit-tree", tree, "-m", "state of T")
    assert r.push([Update(STATE + "T", sha, None)])
    return sha


def logs_of(layout: Layout) -> set[str]:
    return {p.relative_to(layout.logs).as_posix() for p in layout.logs.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "path",
    [
        "cache/specs.pickle",
        "audit.jsonl",
        "state/OTHER/done.json",
        "state/T/sub/x.json",
        "hooks/T/factory-1.stop",
    ],
)
def test_a_snapshot_writing_outside_its_records_is_refused_whole(machines: tuple,
                                                                 path: str) -> None:  # fmt: skip
    a, b, _ = machines
    plant(a, {"state/T/done.json": b"{}", path: b"x"})
    rb = remote(b)
    rb.fetch()
    before = logs_of(b)
    said = re.escape(f"{STATE}T") + ".*" + re.escape(path.removesuffix("/x.json"))
    with pytest.raises(SnapshotRefused, match=said):
        materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    assert logs_of(b) == before, "nothing of a refused snapshot is written"


def test_a_receipt_names_the_artifacts_a_snapshot_may_hold(machines: tuple) -> None:
    a, b, _ = machines
    receipt = json.dumps({"artifact": "_logs/hooks/T/factory-1.stop"}).encode()
    plant(a, {"state/T/factory-001.receipt.json": receipt, "hooks/T/factory-1.stop": b"{}"})
    rb = remote(b)
    rb.fetch()
    assert materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    assert b.stop_file("T", "factory", 1).read_bytes() == b"{}"


def test_symlinks_and_huge_files_are_refused_before_reading(machines: tuple) -> None:
    a, b, _ = machines
    ra = remote(a)
    link = git(ra.repo, "hash-object", "-w", "--stdin", stdin="/etc/passwd")
    inner = git(ra.repo, "mktree", stdin=f"120000 blob {link}\tdone.json\n")
    state = git(ra.repo, "mktree", stdin=f"040000 tree {inner}\tT\n")
    top = git(ra.repo, "mktree", stdin=f"040000 tree {state}\tstate\n")
    plant(a, {}, tree=top)
    rb = remote(b)
    rb.fetch()
    with pytest.raises(SnapshotRefused, match=r"state/T/done\.json: not a plain file"):
        materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    huge = remote(a).commit({"state/T/big.json": b"0" * (2 << 20)}, "state of T", None)
    assert remote(a).push([Update(STATE + "T", huge, rb.ref(STATE + "T"))])
    rb.fetch()
    with pytest.raises(SnapshotRefused, match=r"big\.json: 2097152 bytes"):
        materialise(rb, b, "T", huge)
    assert not b.state_dir("T").exists()


def sealed_decision(layout: Layout) -> None:
    write_decision(layout, DecisionRecord(taskspec_id="T", seq=1, kind="approve",
                                          after_attempt=1, who="ann"))  # fmt: skip


def test_with_a_key_a_snapshot_without_its_seal_is_refused(
    machines: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, _ = machines
    sealed_decision(a)
    assert push_state(remote(a), a, "T", by="forger")  # made without the key
    rb = remote(b)
    rb.fetch()
    forged = rb.ref(STATE + "T") or ""
    monkeypatch.setenv(KEY_ENV, "s3cret")
    with pytest.raises(SnapshotRefused, match=f"{STATE}T .*no valid seal for {KEY_ENV}"):
        materialise(rb, b, "T", forged)
    assert read_decisions(b, "T") == []
    monkeypatch.setenv(KEY_ENV, "other")
    (a.state_dir("T") / "waiting.json").write_text("{}")  # a new snapshot, sealed with "other"
    assert push_state(remote(a), a, "T", by="m0")
    rb.fetch()
    monkeypatch.setenv(KEY_ENV, "s3cret")
    with pytest.raises(SnapshotRefused):
        materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    monkeypatch.setenv(KEY_ENV, "other")
    assert materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    monkeypatch.delenv(KEY_ENV)
    b.shared_record("T").unlink()
    assert materialise(rb, b, "T", forged), "without a key the remote is trusted (docs/ci.md)"
    assert [d.who for d in read_decisions(b, "T")] == ["ann"]


def test_the_holders_push_keeps_a_persons_decision_and_the_remotes_branch(
    machines: tuple,
) -> None:
    a, b, origin = machines
    ta = a.root / "_target"
    (ta / "f").write_text("1")
    git(ta, "add", "f")
    git(ta, "commit", "-qm", "base")
    git(ta, "push", "-q", "origin", "main")
    git(ta, "branch", "taskspec/T")
    ra = remote(a)
    ra.fetch()
    claims = Claims(ra, "A", 300)
    claims.observe()
    assert claims.claim("T")
    write_json_atomic(a.state_dir("T") / "worktree.json", {"x": 1})
    assert push_state(ra, a, "T", claims)
    # a person on machine b rejects while A holds T
    rb = remote(b)
    rb.fetch()
    assert materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    write_decision(b, DecisionRecord(taskspec_id="T", seq=1, kind="reject", after_attempt=1,
                                     feedback="no", who="ann"))  # fmt: skip
    assert push_state(rb, b, "T", by="ann")
    # A renews with its records: the decision is kept, here and on the remote
    write_json_atomic(a.state_dir("T") / "worktree.json", {"x": 2})
    assert push_state(ra, a, "T", claims)
    assert "state/T/decision-001.json" in git(origin, "ls-tree", "-r", "--name-only", STATE + "T")
    assert [d.feedback for d in read_decisions(a, "T")] == ["no"], "sealed on the holder too"
    rb.fetch()
    materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    assert [d.who for d in read_decisions(b, "T")] == ["ann"]
    # a reviewer's commit on the remote's branch is never rewritten by the holder
    git(ta, "checkout", "-q", "taskspec/T")
    git(ta, "commit", "-q", "--allow-empty", "-m", "attempt 1")
    git(ta, "checkout", "-q", "main")
    assert push_state(ra, a, "T", claims)
    review = origin.parent / "review"
    git(origin.parent, "clone", "-q", "-b", "taskspec/T", str(origin), str(review))
    git(review, "commit", "-q", "--allow-empty", "-m", "reviewer fix")
    git(review, "push", "-q", "origin", "taskspec/T")
    git(ta, "checkout", "-q", "taskspec/T")
    git(ta, "commit", "-q", "--allow-empty", "-m", "attempt 2")
    git(ta, "checkout", "-q", "main")
    with pytest.raises(BranchDiverged, match=f"{BRANCHES}T"):
        push_state(ra, a, "T", claims)
    assert git(origin, "log", "-1", "--format=%s", "taskspec/T") == "reviewer fix"


def test_the_local_branch_only_fast_forwards_and_a_checked_out_one_stays(
    machines: tuple,
) -> None:
    a, b, _ = machines
    ta, tb = a.root / "_target", b.root / "_target"
    git(ta, "commit", "-q", "--allow-empty", "-m", "base")
    git(ta, "branch", "taskspec/T")
    write_json_atomic(a.state_dir("T") / "worktree.json", {"x": 1})
    assert push_state(remote(a), a, "T", by="m0")
    rb = remote(b)
    rb.fetch()
    git(tb, "branch", "taskspec/T", "refs/remotes/origin/taskspec/T")
    git(tb, "worktree", "add", "-q", str(b.root / "person"), "taskspec/T")
    git(b.root / "person", "commit", "-q", "--allow-empty", "-m", "mine")
    mine = git(tb, "rev-parse", "taskspec/T")
    git(ta, "commit", "-q", "--allow-empty", "-m", "attempt")
    git(ta, "branch", "-f", "taskspec/T", "HEAD")
    (a.state_dir("T") / "waiting.json").write_text("{}")
    assert push_state(remote(a), a, "T", by="m0")
    rb.fetch()
    assert materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    assert git(tb, "rev-parse", "taskspec/T") == mine, "checked out: left alone"
    git(tb, "worktree", "remove", "--force", str(b.root / "person"))
    b.shared_record("T").unlink()
    assert materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    assert git(tb, "rev-parse", "taskspec/T") == mine, "local commits: not dropped"
    git(tb, "branch", "-f", "taskspec/T", git(ta, "rev-parse", "HEAD~1"))
    b.shared_record("T").unlink()
    assert materialise(rb, b, "T", rb.ref(STATE + "T") or "")
    assert git(tb, "rev-parse", "taskspec/T") == git(ta, "rev-parse", "HEAD"), "fast-forward"


@pytest.mark.parametrize("lease", [float("inf"), 1e300, -1.0, float("nan")])
def test_a_claim_that_makes_no_sense_is_malformed_not_a_crash(lease: float) -> None:
    with pytest.raises(ValueError):
        ClaimRecord(runner="r", taskspec_id="T", claimed_at="x", renewed_at="x",
                    lease_seconds=lease)  # fmt: skip
    assert _until("2026-01-01T00:00:00+00:00", lease) is None
    assert _until("2026-01-01T00:00:00+00:00", 60.0) is not None


def test_a_running_build_is_seen_by_its_lock(tmp_path: Path) -> None:
    lock = tmp_path / "build.lock"
    assert not build_running(lock)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        assert not build_running(lock)
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert build_running(lock)
    finally:
        os.close(fd)
    assert not build_running(lock)


def test_a_huge_tree_is_refused_before_it_is_listed(machines: tuple) -> None:
    a, b, _ = machines
    ra = remote(a)
    blob = git(ra.repo, "hash-object", "-w", "--stdin", stdin="{}")
    lines = "".join(f"100644 blob {blob}\tr{n:06d}.json\n" for n in range(9000))
    inner = git(ra.repo, "mktree", stdin=lines)
    state = git(ra.repo, "mktree", stdin=f"040000 tree {inner}\tT\n")
    plant(a, {}, tree=git(ra.repo, "mktree", stdin=f"040000 tree {state}\tstate\n"))
    rb = remote(b)
    rb.fetch()
    with pytest.raises(SnapshotRefused, match=r"state/T/: a tree of over"):
        materialise(rb, b, "T", rb.ref(STATE + "T") or "")
