"""A TaskSpec's decisions (`_logs/state/<ID>/decision-00n.json`): what a person (approve, reject,
retry, reset) or the integration step (a conflict, failing tests after the merge) decided about it
outside its attempts. Each is written once, whole, under the next free number; they are read back
in that order. They are inputs of the TaskSpec's chain (project.py's digests)."""

from __future__ import annotations

import json
import os

from hatchdoit.core.atomicio import create_atomic
from hatchdoit.layout import Layout
from hatchdoit.records.models import DecisionRecord
from hatchdoit.records.schemas import try_load

PREFIX, SUFFIX = "decision-", ".json"


def read_decisions(
    layout: Layout, tid: str, names: frozenset[str] | None = None
) -> list[DecisionRecord]:
    """The TaskSpec's valid decisions in order; `names`: the state directory's listing, if the
    caller has it. A file that does not parse is left out."""
    if names is None:
        try:
            names = frozenset(os.listdir(layout.state_dir_path(tid)))
        except OSError:
            return []
    found = []
    for name in sorted(n for n in names if n.startswith(PREFIX) and n.endswith(SUFFIX)):
        record = try_load(f"{layout.state_dir_path(tid)}/{name}", DecisionRecord)
        if record is not None and record.taskspec_id == tid:
            found.append(record)
    return found


def write_decision(layout: Layout, record: DecisionRecord) -> DecisionRecord:
    """Write `record` under the next free number (its `seq` is set here) and return it; two
    writers never share a number (create_atomic refuses a name that exists)."""
    seq = max((d.seq for d in read_decisions(layout, record.taskspec_id)), default=0) + 1
    while True:
        final = record.model_copy(update={"seq": seq})
        text = json.dumps(final.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
        if create_atomic(layout.decision(record.taskspec_id, seq), text):
            return final
        seq += 1
