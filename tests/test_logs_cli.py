"""`hatchdoit logs` on a real build, `logs -f` across rotations, and size-based rotation with
several processes appending at once."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import retry_until
from daily_use import MixedBuild, hatchdoit, mixed
from projects import HatchProject

from hatchdoit.core.logs import (
    Rotation,
    log,
    maintain_logs,
    rotate,
    rotated_files,
    rotation_lock,
)
from hatchdoit.observe.logview import _Tail
from hatchdoit.project import load_project

pytestmark = pytest.mark.integration
__all__ = ["mixed"]


def test_logs_human_lines_filters_and_json(mixed: MixedBuild) -> None:
    project = mixed.project
    everything = hatchdoit(project, "logs")
    assert everything.returncode == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert any(
        re.search(r"^\d\d:\d\d:\d\d\.\d{3} INFO\s+orchestrator A\s+worktree ready", ln)
        for ln in lines
    ), lines[:5]
    stamps = [ln[:12] for ln in lines]
    assert stamps == sorted(stamps), "merged in time order"
    assert not any(" errors " in ln[:40] for ln in lines), "errors/ copies are left out"

    warned = hatchdoit(project, "logs", "--taskspec", "C", "--level", "warn", "--json")
    entries = [json.loads(line) for line in warned.stdout.splitlines()]
    assert entries and all(e["taskspec_id"] == "C" for e in entries)
    assert {e["level"] for e in entries} <= {"WARN", "ERROR", "CRITICAL"}
    assert any(e["level"] == "CRITICAL" and "escalated" in e["msg"] for e in entries)

    qa = hatchdoit(project, "logs", "--component", "qa", "--json", "-n", "3")
    entries = [json.loads(line) for line in qa.stdout.splitlines()]
    assert len(entries) == 3 and {e["component"] for e in entries} == {"qa"}

    errors = hatchdoit(project, "logs", "--component", "errors", "--level", "CRITICAL")
    assert errors.stdout.strip() and "escalated after 2 attempt(s)" in errors.stdout

    bad = hatchdoit(project, "logs", "--component", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr
    assert hatchdoit(project, "logs", "--level", "LOUD").returncode == 2


def _reader(proc: subprocess.Popen[str], lines: list[str]) -> threading.Thread:
    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def test_a_followed_log_is_not_read_in_the_middle_of_a_rotation(tmp_path: Path) -> None:
    """A rotation renames .1 to .2 before the log to .1, so for a moment .1 is missing. A walk of
    the names that met the gap stopped there, and a line still unread in .2 came out after newer
    ones (CI saw it). The walk now waits for the rotation's lock."""
    path = tmp_path / "qa.jsonl"
    path.with_name("qa.jsonl.1").write_bytes(b"z1\n")
    path.write_bytes(b"a0\n")
    tail = _Tail(path)
    assert tail.poll() == [b"z1", b"a0"]
    with open(path.with_name("qa.jsonl.1"), "ab") as late:  # a writer that had it open
        late.write(b"z2\n")
    with open(path, "ab") as current:
        current.write(b"a1\n")
    polled: list[list[bytes]] = []
    with rotation_lock(path):  # what rotate() holds while it renames
        os.replace(path.with_name("qa.jsonl.1"), path.with_name("qa.jsonl.2"))
        reader = threading.Thread(target=lambda: polled.append(tail.poll()))
        reader.start()
        reader.join(timeout=0.3)
        assert reader.is_alive() and not polled, f"read in the middle of a rotation: {polled}"
        os.replace(path, path.with_name("qa.jsonl.1"))
    reader.join(timeout=10)
    assert polled == [[b"z2", b"a1"]]


def test_logs_follow_keeps_every_line_across_rotations(project: HatchProject) -> None:
    project.configure(logs={"max_bytes": 1500, "backups": 50, "retention_days": 0})
    logs_dir = project.logs
    logger = load_project(project.root).logger("orchestrator")
    log(logger, logging.INFO, "before follow", taskspec_id="T", seq=-1)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "hatchdoit", "--root", str(project.root), "logs"),
            *("-f", "--json", "--component", "orchestrator", "--component", "qa"),
        ],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    _reader(proc, lines)
    try:
        retry_until(lambda: any("before follow" in ln for ln in lines), what="history line")
        qa = load_project(project.root).logger("qa")
        for seq in range(120):
            log(logger if seq % 2 else qa, logging.INFO, "line " + "x" * 60, seq=seq)
        assert len(rotated_files(logs_dir / "orchestrator" / "orchestrator.jsonl")) >= 5
        retry_until(lambda: len(lines) >= 121, timeout=30, what="every followed line")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    entries = [json.loads(line) for line in lines]
    seqs = [e["seq"] for e in entries]
    assert sorted(seqs) == [-1, *range(120)], seqs  # each line once
    for component in ("orchestrator", "qa"):  # in order within a file (ties in ts may interleave)
        mine = [e["seq"] for e in entries if e["component"] == component]
        assert mine == sorted(mine)

    # without -f, rotated files are read back too, oldest first
    again = hatchdoit(project, "logs", "--json", "--component", "orchestrator")
    assert [json.loads(ln)["seq"] for ln in again.stdout.splitlines()] == [-1, *range(1, 120, 2)]


WRITER = """
import logging, sys
from pathlib import Path
from hatchdoit.core.logs import log
from hatchdoit.project import load_project
logger = load_project(Path(sys.argv[1])).logger("orchestrator")
for n in range(int(sys.argv[3])):
    log(logger, logging.INFO, "concurrent " + "y" * 80, writer=sys.argv[2], n=n)
"""


def test_rotation_with_concurrent_writers_loses_and_repeats_nothing(
    project: HatchProject,
) -> None:
    project.configure(logs={"max_bytes": 20_000, "backups": 1000, "retention_days": 0})
    per_writer, writers = 400, 4
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(project.root), str(w), str(per_writer)],
            env=project.env,
        )
        for w in range(writers)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * writers
    path = project.logs / "orchestrator" / "orchestrator.jsonl"
    files = [path, *rotated_files(path)]
    assert len(files) > 10, "rotated many times"
    seen = [
        (entry["writer"], entry["n"])
        for f in files
        for entry in map(json.loads, f.read_text().splitlines())
    ]
    assert len(seen) == len(set(seen)) == per_writer * writers
    # nothing but the newest file grew much past the limit (a line or so per writer)
    assert all(f.stat().st_size < 20_000 + 4 * 300 for f in files[1:])


def test_backups_and_retention_are_enforced(tmp_path: Path) -> None:
    path = tmp_path / "_logs" / "qa" / "qa.jsonl"
    path.parent.mkdir(parents=True)
    rotation = Rotation(max_bytes=10, backups=2, retention_days=1)
    for n in range(4):
        path.write_text(f'{{"n": {n}}}\n')
        assert rotate(path, rotation)
    assert [p.name for p in rotated_files(path)] == ["qa.jsonl.1", "qa.jsonl.2"]
    assert json.loads((path.parent / "qa.jsonl.1").read_text())["n"] == 3
    old = path.parent / "qa.jsonl.2"
    two_days = time.time() - 2 * 86400
    os.utime(old, (two_days, two_days))
    path.write_text("{}\n")
    assert maintain_logs(tmp_path / "_logs", rotation) == [old]
    assert [p.name for p in rotated_files(path)] == ["qa.jsonl.1"]
    assert path.exists(), "a file under the size limit is not rotated"
