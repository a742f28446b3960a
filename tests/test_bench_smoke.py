"""Smoke test of the benchmark suite: `python -m bench --quick` runs and reports every row.

Marked `bench` (deselected by default; `python3 -m pytest -m bench` runs it). It never asserts on
a wall time or a target: figures depend on the machine. It checks that every measure of issue 7
ran and shows up in the JSON document, the markdown table on stdout and the written doc.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

CHECKOUT = Path(__file__).resolve().parent.parent
# Issue 7's table: stop latency, end to end, list, no-op, concurrency, status; and delivery's.
REQUIRED_ROWS = (
    "stop_latency",
    "end_to_end",
    "list_scale",
    "noop_scale",
    "concurrent",
    "status_scale",
    "integration_overhead",
    "workspace_setup",
)


def test_quick_bench_reports_every_row(tmp_path: Path) -> None:
    if shutil.which("tmux") is None or shutil.which("git") is None:
        pytest.skip("the benchmarks need tmux and git")
    doc_path, json_path = tmp_path / "benchmarks.md", tmp_path / "bench.json"
    argv = [sys.executable, "-m", "bench", "--quick", "--out", str(doc_path)]
    done = subprocess.run(
        [*argv, "--json", str(json_path)],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"python -m bench --quick failed:\n{done.stderr[-4000:]}"

    doc = json.loads(json_path.read_text(encoding="utf-8"))
    printed, end = json.JSONDecoder().raw_decode(done.stdout)
    assert printed["rows"] == doc["rows"], "stdout and --json disagree"
    assert not [s["name"] for s in doc["sections"] if s["error"]]
    rows = {row["key"]: row for row in doc["rows"]}
    for key in REQUIRED_ROWS:
        assert key in rows, f"row {key} missing from the results"
        assert rows[key]["hatchdoit"] != "not measured"
        assert isinstance(rows[key]["met"], bool), f"row {key} has no target verdict"
    assert doc["machine"]["nproc"] >= 1 and doc["machine"]["tmux"]

    table = done.stdout[end:]
    written = doc_path.read_text(encoding="utf-8")
    for text in (table, written):
        assert "| measure | hatchdoit | baseline (same run) |" in text
        for row in doc["rows"]:
            assert f"| {row['measure'].replace('|', chr(92) + '|')} |" in text
    assert written.count("<!-- bench:results:begin") == 1
    assert written.count("<!-- bench:results:end -->") == 1
