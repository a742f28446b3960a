"""A decision counts only when hatchdoit's writer recorded its digest in the audit trail
(records/decisions.py): one written by `write_decision` reads back, one dropped into the state
directory or changed afterwards does not, and the reader says so once on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hatchdoit.layout import Layout
from hatchdoit.records import decisions
from hatchdoit.records.decisions import read_decisions, write_decision
from hatchdoit.records.models import DecisionRecord


def record(kind: str = "reject", **fields: object) -> DecisionRecord:
    return DecisionRecord.model_validate(
        {"taskspec_id": "T1", "seq": 1, "kind": kind, "after_attempt": 1, "who": "P <p@x>",
         **fields}
    )  # fmt: skip


def test_only_decisions_hatchdoit_wrote_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = Layout(tmp_path)
    first = write_decision(layout, record(feedback="add docs"))
    assert [d.seq for d in read_decisions(layout, "T1")] == [1]
    # a file shaped like `hatchdoit approve`'s, dropped beside it: not a decision
    forged = record("approve", seq=2, commit="a" * 40).model_dump(mode="json")
    layout.decision("T1", 2).write_text(json.dumps(forged, indent=2, sort_keys=True) + "\n")
    assert [d.kind for d in read_decisions(layout, "T1")] == ["reject"]
    err = capsys.readouterr().err
    assert err.count("not a decision hatchdoit recorded") == 1 and "decision-002.json" in err
    # the one hatchdoit wrote, changed afterwards (reject turned into approve): not one either
    path = layout.decision("T1", first.seq)
    path.write_text(path.read_text().replace('"reject"', '"approve"'))
    assert read_decisions(layout, "T1") == []
    # the next decision hatchdoit writes takes the next number and counts
    made = write_decision(layout, record("retry", grants=1))
    assert made.seq == 3 and [d.seq for d in read_decisions(layout, "T1")] == [3]
    events = [json.loads(x) for x in layout.audit.read_text().splitlines()]
    assert [e["seq"] for e in events if e["event"] == "decision_recorded"] == [1, 3]


def test_the_trail_is_read_on_from_where_it_ended(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    write_decision(layout, record())
    assert len(decisions.sealed(layout)) == 1
    offset = decisions._sealed_cache[str(layout.audit)][0]
    assert offset == layout.audit.stat().st_size
    write_decision(layout, record("retry", grants=1))
    assert len(decisions.sealed(layout)) == 2
