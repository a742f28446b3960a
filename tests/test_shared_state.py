"""A TaskSpec's records on the remote (shared/state_sync.py), between two "machines" (two
layouts, two clones of one bare remote): the snapshot holds the records and the artifacts their
receipts name, not logs, big files or a runner's own wait; another machine materialises it with
its decisions still sealed (their audit events travel with it), follows the branch, drops its
stale records, and a receipt stays current there (its artifact's hash, not its stat)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from shared_machines import two_layouts

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.jsonlines import read_json_lines
from hatchdoit.layout import Layout
from hatchdoit.records.audit import audit
from hatchdoit.records.decisions import read_decisions, write_decision
from hatchdoit.records.models import DecisionRecord
from hatchdoit.records.receipts import current_receipt, write_receipt
from hatchdoit.records.waiting import WaitingRecord, record_waiting
from hatchdoit.shared.remote_refs import STATE, Remote
from hatchdoit.shared.state_sync import materialise, push_state, snapshot, synced_sha


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Layout, Layout, Path]:
    return two_layouts(tmp_path, monkeypatch)


def remote(layout: Layout) -> Remote:
    return Remote(layout.root / "_target", "origin")


def records(layout: Layout, tid: str) -> None:
    """What a build of `tid` leaves: receipts naming artifacts, done.json, a sealed decision,
    logs, a big file, a runner's own wait, audit events (some of another TaskSpec)."""
    stop = layout.stop_file(tid, "factory", 1)
    stop.parent.mkdir(parents=True)
    stop.write_text(json.dumps({"run_token": "tok-1", "event": "stop"}))
    write_receipt(
        layout, tid, "factory", 1, digest="d1", outcome="ok", artifact=stop, token="tok-1"
    )
    checks = layout.checks(tid, 1)
    checks.parent.mkdir(parents=True)
    write_json_atomic(checks, {"passed": True})
    write_receipt(layout, tid, "checks", 1, digest="d1", outcome="ok", artifact=checks)
    write_json_atomic(layout.done(tid), {"taskspec_id": tid, "commit": "c" * 40})
    reject = DecisionRecord(
        taskspec_id=tid, seq=1, kind="reject", after_attempt=1, feedback="more tests", who="ann"
    )
    write_decision(layout, reject)
    layout.checks_log(tid, 1).write_text("a long log\n")
    (layout.state_dir(tid) / "huge.json").write_bytes(b"0" * (2 << 20))
    record_waiting(layout, WaitingRecord(taskspec_id=tid, kind="runner", on=["X"], step="shared",
                                         digest="d0"))  # fmt: skip
    audit(layout.audit, "step_end", tid, step="factory", attempt=1, seconds=3.0)
    audit(layout.audit, "step_end", "OTHER", step="factory", attempt=1, seconds=9.0)


def test_a_snapshot_holds_the_records_and_their_artifacts_only(machines: tuple) -> None:
    a, _, _ = machines
    records(a, "T")
    names = set(snapshot(a, "T"))
    assert {
        "state/T/factory-001.receipt.json",
        "hooks/T/factory-1.stop",
        "state/T/checks-001.receipt.json",
        "qa/T/checks-001.json",
        "state/T/done.json",
        "state/T/decision-001.json",
        "audit/T.jsonl",
    } <= names
    assert "state/T/huge.json" not in names, "over the size of a record"
    assert "state/T/waiting.json" not in names, "a runner's own wait is not the TaskSpec's"
    assert not [n for n in names if n.endswith(".log")]
    events = snapshot(a, "T")["audit/T.jsonl"]
    assert isinstance(events, bytes) and b"OTHER" not in events


def test_another_machine_materialises_it_with_its_decisions_sealed(machines: tuple) -> None:
    a, b, origin = machines
    records(a, "T")
    work = a.root / "_target"
    git(work, "commit", "-q", "--allow-empty", "-m", "attempt 1")
    git(work, "branch", "taskspec/T")
    assert push_state(remote(a), a, "T", by="m0")
    sha = git(origin, "rev-parse", f"{STATE}T")
    assert git(origin, "rev-parse", "taskspec/T") == git(work, "rev-parse", "taskspec/T")
    assert push_state(remote(a), a, "T", by="m0")  # nothing new: no new commit
    assert git(origin, "rev-parse", f"{STATE}T") == sha

    (b.state_dir("T")).mkdir(parents=True)
    (b.state_dir("T") / "qa-002.receipt.json").write_text("{}")  # stale here: goes
    rb = remote(b)
    rb.fetch()
    assert materialise(rb, b, "T", sha)
    assert not (b.state_dir("T") / "qa-002.receipt.json").exists()
    assert (b.stop_file("T", "factory", 1)).read_text() == a.stop_file(
        "T", "factory", 1
    ).read_text()
    assert current_receipt(b, "T", "checks", 1, "d1") is not None, "pinned by its hash"
    assert current_receipt(b, "T", "factory", 1, "d1") is not None, "pinned by its run token"
    decisions = read_decisions(b, "T")
    assert [(d.kind, d.feedback) for d in decisions] == [("reject", "more tests")]
    imported = [e for e in read_json_lines(b.audit)]
    assert {e["taskspec_id"] for e in imported} == {"T"}
    assert all(e.get("via") == "remote" for e in imported)
    assert git(b.root / "_target", "rev-parse", "taskspec/T") == git(work, "rev-parse", "HEAD")
    assert synced_sha(b, "T") == sha
    assert json.loads(b.shared_record("T").read_text())["runner"] == "m0"
    assert not materialise(rb, b, "T", sha), "the same snapshot again: nothing to do"
    materialise_again = len(read_json_lines(b.audit))
    b.shared_record("T").unlink()
    assert materialise(rb, b, "T", sha)
    assert len(read_json_lines(b.audit)) == materialise_again, "no event imported twice"


def test_a_forged_decision_on_the_remote_is_not_sealed_here(machines: tuple) -> None:
    a, b, origin = machines
    records(a, "T")
    forged = a.state_dir("T") / "decision-002.json"
    forged.write_text(json.dumps({"taskspec_id": "T", "seq": 2, "kind": "approve",
                                  "after_attempt": 1, "who": "agent"}))  # fmt: skip
    assert push_state(remote(a), a, "T", by="m0")
    rb = remote(b)
    rb.fetch()
    assert materialise(rb, b, "T", git(origin, "rev-parse", f"{STATE}T"))
    assert [d.seq for d in read_decisions(b, "T")] == [1], "only what a's writer sealed"
