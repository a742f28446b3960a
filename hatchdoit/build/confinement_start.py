"""At the start of a build: decide its confinement (confinement/mode.py), say it once, record it.

A refusal (`required`, or `hatchdoit ci` under `auto`, where the machine cannot confine) is a
ConfigError: the build stops before any task with its one line. Unconfined under `auto`, a local
build prints one WARN line. `_logs/confinement.json` and the audit keep what was in force,
written again only when it changes.
"""

from __future__ import annotations

import contextlib
import json
import sys

from hatchdoit.confinement.mode import Decision, build_decision
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.clock import now_iso
from hatchdoit.project import Project
from hatchdoit.records.audit import audit


def start_confinement(project: Project) -> Decision:
    decision = build_decision(project.config.confinement)
    if decision.mode != "off" and not decision.confined:
        print(f"hatchdoit: {decision.warning()}", file=sys.stderr)
    path = project.layout.confinement_record
    with contextlib.suppress(OSError, ValueError):
        before = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(before, dict) and {k: v for k, v in before.items() if k != "at"} == (
            decision.as_record()
        ):
            return decision  # on record already: a rerun that changes nothing writes nothing
    record = {**decision.as_record(), "at": now_iso()}
    with contextlib.suppress(OSError):  # a full disk is said by the first step that writes
        write_json_atomic(path, record)
        audit(project.layout.audit, "confinement", "", **decision.as_record())
    return decision
