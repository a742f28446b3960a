"""What the tests of killed and stopped builds look at around the rerun: which steps had
finished (their receipts), how far the audit trail had got, which doit processes are still
running in a project, and whether the artifacts left behind still validate.

Used by test_faults_*.py and test_resume.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil
from conftest import assert_logs_parse, read_audit
from projects import HatchProject

from hatchdoit.records.models import Receipt
from hatchdoit.records.schemas import load_valid, try_load


def finished_steps(project: HatchProject) -> set[tuple[str, str, int]]:
    """(tid, step, attempt) of every valid receipt on disk, plus (tid, 'taskspec', 0) for done."""
    found: set[tuple[str, str, int]] = set()
    for path in (project.logs / "state").glob("*/*.receipt.json"):
        receipt = try_load(path, Receipt)
        if receipt is not None:
            found.add((receipt.taskspec_id, receipt.step, receipt.attempt))
    for path in (project.logs / "state").glob("*/done.json"):
        found.add((path.parent.name, "taskspec", 0))
    return found


def audit_lines(project: HatchProject) -> int:
    path = project.layout.audit
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def audit_after(project: HatchProject, start: int) -> list[dict[str, Any]]:
    return read_audit(project)[start:]


def doit_pids(root: Path) -> list[int]:
    """Processes (other than agents in tmux) running doit in the project root."""
    pids = []
    for proc in psutil.process_iter(["cwd", "cmdline"]):  # psutil: macOS has no /proc
        cwd, cmdline = proc.info["cwd"], proc.info["cmdline"] or []
        if cwd == str(root) and any(part.endswith("doit") for part in cmdline[:2]):
            pids.append(proc.pid)
    return pids


def assert_artifacts_valid_for(project: HatchProject, tids: list[str]) -> None:
    assert_logs_parse(project)
    for path in sorted((project.logs / "state").glob("*/*.receipt.json")):
        load_valid(path, Receipt)
    state = json.loads(project.layout.current_state.read_text(encoding="utf-8"))
    assert set(state["taskspecs"]) == set(tids)
