"""What a TaskSpec can wait on that is neither its own work nor a failure, defined once: every
kind has the word `hatchdoit status` shows, the line `hatchdoit ci` lists it with, and the
same exit code and JUnit element (docs/ci.md, "Waiting").

- `review`, state `awaiting review`: a person's review (a `review:` gate; `hatchdoit approve` or
  `reject`);
- `merge`, state `awaiting merge`: a dependency's pull request to merge (`integrate: pr` with
  `integration.dependents: wait`);
- `runner`, state `awaiting runner`: another CI runner building a TaskSpec it needs (reserved
  for builds shared between runners).

A step that waits raises `Waiting`: doit counts its task as failed, so nothing after it runs, and
the progress line says `W`; `hatchdoit ci` exits 4 (EXIT_WAITING) when nothing failed and every
unfinished TaskSpec waits or depends on one that waits; JUnit has `<skipped type="<state>">`
for it; no `build_failed` notice is sent for it. A wait that cannot be read back from the other
artifacts (a pull request's state lives on GitHub) is recorded in `_logs/state/<ID>/waiting.json`
for the inputs it was found for.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.clock import now_iso
from hatchdoit.core.errors import StepError
from hatchdoit.layout import Layout
from hatchdoit.records.schemas import try_load

WaitKind = Literal["review", "merge", "runner"]


@dataclass(frozen=True)
class WaitingOn:
    """One kind of waiting: its status word, what it means, and how it is said."""

    kind: WaitKind
    state: str  # `hatchdoit status`'s state, the ci summary's and JUnit's word
    meaning: str  # the status legend
    waits_for: str  # `{on}`: what it waits for, after "waiting for" / "waits for"
    # What it waits for happens elsewhere (GitHub, another runner), not in a record of this
    # project: the wait as recorded may be over, so `hatchdoit ci` runs doit to look again.
    elsewhere: bool = False

    def text(self, tid: str, on: list[str]) -> str:
        """`waiting for the pull request of A to merge`: status, JUnit."""
        if self.kind == "review":
            return f"awaiting review: hatchdoit review {tid}"
        return "waiting for " + self.waits_for.format(on=", ".join(on))

    def says(self, on: list[str]) -> str:
        """`waits for the pull request of A to merge`: the step's line."""
        return "waits for " + self.waits_for.format(on=", ".join(on))

    def ci_line(self, tid: str, on: list[str]) -> str:
        """`B waits for the pull request of A to merge`: hatchdoit ci's list."""
        if self.kind == "review":
            return f"{tid} awaits review: hatchdoit review {tid}"
        return f"{tid} {self.says(on)}"


KINDS: dict[WaitKind, WaitingOn] = {
    "review": WaitingOn(
        "review",
        "awaiting review",
        "QA approved it; hatchdoit review, then approve or reject",
        "a person's review",
    ),
    "merge": WaitingOn(
        "merge",
        "awaiting merge",
        "its dependency's pull request is open; merge it, then build again",
        "the pull request of {on} to merge",
        elsewhere=True,
    ),
    "runner": WaitingOn(
        "runner",
        "awaiting runner",
        "another CI runner builds what it needs; build again after it",
        "{on} to be built by another CI runner",
        elsewhere=True,
    ),
}
WAITING_STATES = tuple(kind.state for kind in KINDS.values())


def waiting_of(progress: dict[str, Any]) -> WaitingOn | None:
    """The kind of waiting a TaskSpec's progress (observe/progress.py) says, if any."""
    kind = progress.get("awaiting")
    return KINDS.get(kind) if isinstance(kind, str) else None  # type: ignore[call-overload]


def waiting_state(progress: dict[str, Any]) -> str | None:
    """`awaiting review`, `awaiting merge`, ... or None."""
    found = waiting_of(progress)
    return None if found is None else found.state


def waiting_text(tid: str, progress: dict[str, Any]) -> str | None:
    """`waiting for the pull request of A to merge`, or None when it does not wait."""
    found = waiting_of(progress)
    return None if found is None else found.text(tid, list(progress.get("waiting_on", [])))


class Waiting(StepError):
    """A step found its TaskSpec waiting (see the module's table). Repeated as it is on every
    rerun until what it waits for happens: nothing is logged or audited as an error."""

    on_record = True
    waiting = True
    kind: WaitKind = "review"

    def one_line(self) -> str:
        return self.message + (f" (then: {self.fix})" if self.fix else "")


class AwaitingMerge(Waiting):
    """A dependency's pull request is open (`integration.dependents: wait`)."""

    kind = "merge"


class WaitingRecord(BaseModel):
    """`waiting.json`: what the TaskSpec's step found it waiting for, under `digest` (the
    step's input digest): a rerun with other inputs does not read it."""

    model_config = ConfigDict(extra="forbid")

    taskspec_id: str
    kind: WaitKind
    on: list[str] = Field(default_factory=list, description="what it waits for: TaskSpec ids")
    step: str
    digest: str
    at: str = Field(default_factory=now_iso)


def waiting_path(layout: Layout, tid: str) -> Path:
    return layout.state_dir(tid) / "waiting.json"


def read_waiting(layout: Layout, tid: str, digest: str) -> WaitingRecord | None:
    """The TaskSpec's waiting record, while it is for `digest`."""
    record = try_load(waiting_path(layout, tid), WaitingRecord)
    return record if record is not None and record.digest == digest else None


def record_waiting(layout: Layout, record: WaitingRecord) -> bool:
    """Write the record unless the same wait (kind, what on, inputs) is on record already:
    True when it is new (worth a log line and an audit event)."""
    known = read_waiting(layout, record.taskspec_id, record.digest)
    if known is not None and (known.kind, known.on, known.step) == (
        record.kind,
        record.on,
        record.step,
    ):
        return False
    write_json_atomic(waiting_path(layout, record.taskspec_id), record.model_dump(mode="json"))
    return True


def clear_waiting(layout: Layout, tid: str) -> None:
    """What it waited for happened."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(waiting_path(layout, tid))
