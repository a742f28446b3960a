"""A TaskSpec's decisions (`_logs/state/<ID>/decision-00n.json`): what a person (approve, reject,
retry, reset) or the integration step (a conflict, failing tests after the merge) decided about it
outside its attempts. Each is written once, whole, under the next free number; they are read back
in that order. They are inputs of the TaskSpec's chain (project.py's digests).

Only hatchdoit's own writer makes a decision: it records the digest of the file it is about to
write in the audit trail (`decision_recorded`), and a decision file whose bytes no such event
names is not a decision (an agent that wrote one into the state directory forged it): it is left
out, and said once on stderr. Confined agents cannot write either place at all; this check is
what stops a file dropped there by an unconfined one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from hatchdoit.core.atomicio import create_atomic
from hatchdoit.layout import Layout
from hatchdoit.records.audit import audit
from hatchdoit.records.models import DecisionRecord
from hatchdoit.records.schemas import try_parse

PREFIX, SUFFIX = "decision-", ".json"
SEALED_EVENT = "decision_recorded"
MAX_DECISION_BYTES = 1 << 20

# audit.jsonl path -> (bytes read so far, {(taskspec_id, digest)}): the trail only grows, so
# each read continues where the last one ended.
_sealed_cache: dict[str, tuple[int, set[tuple[str, str]]]] = {}
_told: set[str] = set()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sealed(layout: Layout) -> set[tuple[str, str]]:
    """(taskspec_id, digest) of every decision hatchdoit's writer recorded in the audit trail."""
    path = str(layout.audit)
    offset, found = _sealed_cache.get(path, (0, set()))
    try:
        with open(path, "rb") as trail:
            size = os.fstat(trail.fileno()).st_size
            if size < offset:  # a new trail (a test's fresh project at the same path)
                offset, found = 0, set()
            trail.seek(offset)
            chunk = trail.read(size - offset)
    except OSError:
        return found
    whole = chunk.rfind(b"\n") + 1  # a line being appended is read next time
    marker = f'"{SEALED_EVENT}"'.encode()
    for line in chunk[:whole].split(b"\n"):
        if marker not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == SEALED_EVENT:
            found.add((str(event.get("taskspec_id")), str(event.get("digest"))))
    _sealed_cache[path] = (offset + whole, found)
    return found


def read_decisions(
    layout: Layout, tid: str, names: frozenset[str] | None = None
) -> list[DecisionRecord]:
    """The TaskSpec's valid decisions in order; `names`: the state directory's listing, if the
    caller has it. A file that does not parse, or that hatchdoit's writer did not record, is
    left out."""
    if names is None:
        try:
            names = frozenset(os.listdir(layout.state_dir_path(tid)))
        except OSError:
            return []
    found = []
    seals: set[tuple[str, str]] | None = None
    for name in sorted(n for n in names if n.startswith(PREFIX) and n.endswith(SUFFIX)):
        path = f"{layout.state_dir_path(tid)}/{name}"
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_DECISION_BYTES + 1)
        except OSError:
            continue
        record = try_parse(data, path, DecisionRecord)
        if record is None or record.taskspec_id != tid:
            continue
        seals = sealed(layout) if seals is None else seals
        if (tid, _digest(data)) not in seals:
            _tell_forged(path)
            continue
        found.append(record)
    return found


def _tell_forged(path: str) -> None:
    if path not in _told:
        _told.add(path)
        print(
            f"hatchdoit: {path}: not a decision hatchdoit recorded (no `{SEALED_EVENT}` event "
            "in the audit trail): ignored (fix: record decisions with `hatchdoit approve|reject|"
            "retry|reset`, and move this file aside)",
            file=sys.stderr,
        )


def write_decision(layout: Layout, record: DecisionRecord) -> DecisionRecord:
    """Write `record` under the next free number (its `seq` is set here) and return it; two
    writers never share a number (create_atomic refuses a name that exists). Its digest goes
    into the audit trail first: a decision is one only once it is there."""
    seq = max((d.seq for d in read_decisions(layout, record.taskspec_id)), default=0) + 1
    while True:
        if layout.decision(record.taskspec_id, seq).exists():  # a file not counted: not ours
            seq += 1
            continue
        final = record.model_copy(update={"seq": seq})
        text = json.dumps(final.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
        audit(
            layout.audit,
            SEALED_EVENT,
            record.taskspec_id,
            seq=seq,
            kind=record.kind,
            digest=_digest(text.encode("utf-8")),
        )
        if create_atomic(layout.decision(record.taskspec_id, seq), text):
            return final
        seq += 1
