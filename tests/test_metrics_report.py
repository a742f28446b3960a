"""Metrics (metrics.json, metrics.prom) and the HTML report of a real mixed build."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import HatchProject
from daily_use import MixedBuild, hatchdoit, mixed

from hatchdoit.atomicio import write_json_atomic
from hatchdoit.metrics import compute_metrics, percentile, stop_usage, to_prometheus
from hatchdoit.project import load_project
from hatchdoit.records import LaunchRecord, StopRecord

pytestmark = pytest.mark.integration
__all__ = ["mixed"]

SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)\})? (?P<value>[-+]?[0-9.eE+-]+|NaN)$'
)


def parse_prometheus(text: str) -> dict[str, float]:
    """A strict reader of the text format: every family has HELP and TYPE before its samples,
    every sample line parses, no series appears twice."""
    families: dict[str, str] = {}
    series: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "summary"), line
            families[name] = kind
            continue
        match = SAMPLE.match(line)
        assert match, f"bad sample line: {line!r}"
        name = match["name"]
        base = re.sub(r"_(sum|count)$", "", name)
        assert name in families or base in families, f"sample before its TYPE: {line}"
        key = f"{name}{{{match['labels'] or ''}}}"
        assert key not in series, f"duplicate series {key}"
        series[key] = float(match["value"])
    return series


def test_metrics_files_count_steps_agents_and_attempts(mixed: MixedBuild) -> None:
    done = hatchdoit(mixed.project, "metrics", "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics == json.loads((mixed.root / "_logs" / "metrics.json").read_text())
    assert metrics["taskspecs"] == {
        "total": 4,
        "pending": 1,
        "active": 0,
        "done": 2,
        "escalated": 1,
    }
    assert metrics["attempts"]["per_taskspec"] == {"A": 1, "B": 2, "C": 2, "D": 0}
    assert metrics["attempts"]["histogram"] == {"1": 1, "2": 2}
    qa = metrics["steps"]["qa"]
    assert (qa["ok"], qa["failed"], qa["errors"]) == (2, 3, 0)  # B1, C1, C2 rejected
    assert qa["success_rate"] == pytest.approx(0.4)
    checks = metrics["steps"]["checks"]
    assert (checks["ok"], checks["failed"]) == (3, 2)
    taskspec = metrics["steps"]["taskspec"]
    assert (taskspec["ok"], taskspec["failed"], taskspec["errors"]) == (2, 1, 2)  # C, twice
    for step in ("worktree", "factory", "summary", "checks", "qa"):
        d = metrics["steps"][step]["duration_s"]
        assert d["count"] >= 1 and 0 <= d["p50"] <= d["p95"] <= d["max"], step
    agent = metrics["agents"]["scripted"]
    assert agent["roles"] == {"factory": 5, "qa": 5}
    assert agent["tokens"] == {} and agent["cost_usd"] is None and metrics["tokens"] is None
    assert metrics["wall_s"] > 0

    series = parse_prometheus((mixed.root / "_logs" / "metrics.prom").read_text())
    assert series['hatchdoit_taskspecs{status="escalated"}'] == 1
    assert series['hatchdoit_step_results_total{step="qa",outcome="failed"}'] == 3
    assert series['hatchdoit_taskspec_attempts{taskspec="B"}'] == 2
    assert series['hatchdoit_agent_runs_total{profile="scripted",role="qa"}'] == 5
    assert series['hatchdoit_step_duration_seconds_count{step="factory"}'] == 5
    p50 = series['hatchdoit_step_duration_seconds{step="factory",quantile="0.5"}']
    assert p50 == metrics["steps"]["factory"]["duration_s"]["p50"]


def test_tokens_and_cost_come_from_stop_payloads(project: HatchProject) -> None:
    project.add_taskspec("T")
    layout = project.layout
    launch = LaunchRecord(
        taskspec_id="T",
        role="factory",
        attempt=1,
        run_token="tok",
        digest="d",
        session="s",
        profile="claude-code-headless",
        socket="x",
        prompt_file="p",
    )
    write_json_atomic(layout.launch_record("T", "factory", 1), launch.model_dump())
    stop = StopRecord(
        run_token="tok",
        taskspec_id="T",
        role="factory",
        attempt=1,
        event="stop",
        source="hook",
        payload={"usage": {"input_tokens": 1200, "output_tokens": 300}, "total_cost_usd": 0.012},
    )
    write_json_atomic(layout.stop_file("T", "factory", 1), stop.model_dump())
    metrics = compute_metrics(load_project(project.root))
    agent = metrics["agents"]["claude-code-headless"]
    assert agent["tokens"] == {"input": 1200, "output": 300, "total": 1500}
    assert agent["cost_usd"] == pytest.approx(0.012)
    assert metrics["tokens"]["total"] == 1500 and metrics["cost_usd"] == pytest.approx(0.012)
    prom = parse_prometheus(to_prometheus(metrics))
    kind = 'hatchdoit_agent_tokens_total{profile="claude-code-headless",kind="output"}'
    assert prom[kind] == 300
    assert prom['hatchdoit_agent_cost_usd_total{profile="claude-code-headless"}'] == 0.012


def test_percentiles_and_usage_parsing() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(n) for n in range(1, 101)], 0.95) == pytest.approx(95.05)
    stop = StopRecord(
        run_token="t", taskspec_id="X", role="qa", attempt=1, event="stop", source="hook"
    )
    assert stop_usage(stop) == ({}, None)
    stop.payload = {"tokens": 42, "cost_usd": 0.5}
    assert stop_usage(stop) == ({"total": 42}, 0.5)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.external: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src") and value:
                if re.match(r"^[a-z]+:", value) or value.startswith("//"):
                    self.external.append(value)
                elif not value.startswith("#"):
                    self.hrefs.append(value)


def test_report_is_self_contained_with_working_relative_links(
    mixed: MixedBuild, tmp_path: Path
) -> None:
    out = tmp_path / "elsewhere" / "report.html"
    done = hatchdoit(mixed.project, "report", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(text)
    assert parser.external == [] and "script" not in parser.tags and "link" not in parser.tags
    assert parser.hrefs, "links to artifacts"
    broken = [h for h in parser.hrefs if not (out.parent / unquote(h)).resolve().is_file()]
    assert broken == []
    for needed in (
        "_logs/state/C/escalated.json",
        "_logs/qa/B/B-qa-001.json",
        "_logs/factory/A/pane-001.log",
        "_logs/qa/C/checks-002.log",
        "_logs/summaries/A-factory-001.json",
    ):
        assert any(unquote(h).endswith(needed) for h in parser.hrefs), needed
    for tid in "ABCD":
        assert f'id="ts-{tid}"' in text and f'data-taskspec="{tid}"' in text
    assert "Add a docstring to each new public function." in text  # B's QA feedback
    assert "tests failed" in text  # C's failure reason
    assert "<b>Escalated</b>" in text
    assert text.count('class="tl-bar ') >= 4 * 5  # every step run of A, B and C
    default = hatchdoit(mixed.project, "report")
    assert default.returncode == 0 and (mixed.root / "_logs" / "report.html").is_file()
