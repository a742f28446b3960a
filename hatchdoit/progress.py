"""Where each TaskSpec stands, derived from its artifacts alone (so it is right after a crash)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

from hatchdoit.layout import Layout
from hatchdoit.project import Project
from hatchdoit.receipts import current_receipt
from hatchdoit.records import DoneRecord, EscalatedRecord, Receipt
from hatchdoit.schemas import try_load

STEPS_PER_ATTEMPT = ("factory", "summary", "checks", "qa")
R = TypeVar("R", DoneRecord, EscalatedRecord)


@dataclass(frozen=True)
class StateFiles:
    """A TaskSpec's state directory read once: the names in it, and its done.json and
    escalated.json whatever inputs they were made for. Status reads this for every TaskSpec,
    and a listing is far cheaper than failing to open the files a TaskSpec has not got yet."""

    directory: str
    names: frozenset[str]
    done: DoneRecord | None
    escalated: EscalatedRecord | None

    @classmethod
    def read(cls, layout: Layout, tid: str) -> StateFiles:
        directory = layout.state_dir_path(tid)
        try:
            names = frozenset(os.listdir(directory))
        except OSError:  # nothing built (or unreadable: then nothing can be read from it)
            return cls(directory, frozenset(), None, None)
        return cls(
            directory,
            names,
            cls._load(directory, names, "done.json", DoneRecord),
            cls._load(directory, names, "escalated.json", EscalatedRecord),
        )

    @staticmethod
    def _load(directory: str, names: frozenset[str], name: str, model: type[R]) -> R | None:
        return try_load(f"{directory}/{name}", model) if name in names else None

    def paths(self, prefix: str, suffix: str) -> list[str]:
        """The files named `prefix*suffix`, like a glob in the directory."""
        return [
            f"{self.directory}/{name}"
            for name in sorted(self.names)
            if name.startswith(prefix) and name.endswith(suffix)
        ]


def taskspec_progress(
    project: Project, tid: str, files: StateFiles | None = None
) -> dict[str, Any]:
    """{status, step, attempt, decision} for one TaskSpec under the current inputs; `files`
    when the caller has read the TaskSpec's state directory already."""
    layout, digest = project.layout, project.digest(tid)
    if files is None:
        files = StateFiles.read(layout, tid)
    done = files.done
    if done is not None and done.digest == digest:
        return {"status": "done", "step": "done", "attempt": done.attempt}
    escalated = files.escalated
    if escalated is not None and escalated.digest == digest:
        return {
            "status": "escalated",
            "step": "escalated",
            "attempt": escalated.attempts,
            "reasons": escalated.reasons[-3:],
        }

    def receipt(step: str, attempt: int) -> Receipt | None:
        if f"{step}-{attempt:03d}.receipt.json" not in files.names:
            return None
        return current_receipt(layout, tid, step, attempt, digest)

    if receipt("worktree", 0) is None:
        return {"status": "pending", "step": "worktree", "attempt": 0}
    last: dict[str, Any] = {"status": "active", "step": "worktree", "attempt": 0}
    for k in range(1, project.max_attempts(tid) + 1):
        for step in STEPS_PER_ATTEMPT:
            rec = receipt(step, k)
            if rec is None:
                return {**last, "next": f"{step} {k}"}
            last = {"status": "active", "step": step, "attempt": k, "outcome": rec.outcome}
            if step == "qa":
                last["decision"] = rec.data.get("decision")
                if rec.data.get("decision") == "approved":
                    return {**last, "next": "finish"}
    return {**last, "next": "finish"}
