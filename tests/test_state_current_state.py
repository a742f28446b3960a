"""A corrupt `_logs/state/current_state.json` (empty, binary, the wrong shape, truncated): the
next build restores it from its backup, or rebuilds it, with a WARN line, and every entry tells
the truth afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import read_audit, read_log, run_doit
from projects import HatchProject, module_body

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------------------------
# current_state.json


def build_two(project: HatchProject) -> tuple[Path, Path]:
    a = project.add_taskspec("SA", body=module_body("sa", "sa", "a"))
    c = project.add_taskspec("SC", body=module_body("sc", "sc", "c"))
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    return a, c


def state_file(project: HatchProject) -> Path:
    return project.layout.current_state


def statuses(project: HatchProject) -> dict[str, str]:
    state = json.loads(state_file(project).read_text(encoding="utf-8"))
    return {tid: entry["status"] for tid, entry in state["taskspecs"].items()}


def state_warnings(project: HatchProject) -> list[dict[str, object]]:
    return [
        line
        for line in read_log(project, "orchestrator")
        if line["level"] == "WARN" and line.get("operation") == "read_state"
    ]


GARBAGE = {
    "empty": b"",
    "binary": b"\x00\xff\xfe binary",
    "wrong-type": b'{"taskspecs": []}',
    "not-a-mapping": b"[1, 2, 3]",
    "truncated": b'{"taskspecs": {"SA": 1',
}


@pytest.mark.slow  # one build per kind of garbage; the next test covers one in the default run
def test_corrupt_state_is_restored_from_its_backup_by_the_next_step(project: HatchProject) -> None:
    """Each kind of garbage in current_state.json, each followed by a build that runs steps (of
    a newly added TaskSpec): the file is whole again, with a WARN line each time."""
    build_two(project)
    for n, (kind, garbage) in enumerate(GARBAGE.items()):
        warned = len(state_warnings(project))
        state_file(project).write_bytes(garbage)
        tid = f"SD{n}"
        project.add_taskspec(tid, body=module_body(f"sd{n}", f"sd{n}", str(n)))
        done = run_doit(project, f"taskspec:{tid}")
        assert done.returncode == 0, f"{kind}: {done.stdout}{done.stderr}"
        assert "Traceback" not in done.stdout + done.stderr
        assert {"SA", "SC", tid} <= set(statuses(project)), kind
        assert statuses(project)[tid] == "done", kind
        messages = [str(w["msg"]) for w in state_warnings(project)[warned:]]
        assert any("corrupt" in m for m in messages), (kind, messages)
        assert any("restored from its backup" in m for m in messages), (kind, messages)


def test_corrupt_state_is_restored_by_a_build_with_nothing_to_do(project: HatchProject) -> None:
    build_two(project)
    state_file(project).write_text("{ truncated", encoding="utf-8")
    assert run_doit(project).returncode == 0
    assert statuses(project) == {"SA": "done", "SC": "done"}


def last_finished(project: HatchProject) -> str:
    done = [e["taskspec_id"] for e in read_audit(project) if e["event"] == "done"]
    return done[-1]


def test_state_restored_during_a_build_has_no_stale_entries(project: HatchProject) -> None:
    """current_state.json is corrupted between builds; the next build runs steps of one
    TaskSpec only. Every entry must still tell the truth afterwards."""
    paths = dict(zip(("SA", "SC"), build_two(project), strict=True))
    other = "SA" if last_finished(project) == "SC" else "SC"
    state_file(project).write_text("{ truncated", encoding="utf-8")
    path = paths[other]
    path.write_text(path.read_text(encoding="utf-8") + "\nEdited.\n", encoding="utf-8")

    assert run_doit(project).returncode == 0
    assert statuses(project) == {"SA": "done", "SC": "done"}


def test_state_rebuilt_during_a_build_lists_every_taskspec(project: HatchProject) -> None:
    paths = dict(zip(("SA", "SC"), build_two(project), strict=True))
    state_file(project).write_text("{ truncated", encoding="utf-8")
    state_file(project).with_suffix(".json.bak").write_text("garbage", encoding="utf-8")
    path = paths["SA"]
    path.write_text(path.read_text(encoding="utf-8") + "\nEdited.\n", encoding="utf-8")

    assert run_doit(project).returncode == 0
    assert statuses(project) == {"SA": "done", "SC": "done"}
