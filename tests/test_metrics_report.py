"""Metrics (metrics.json, metrics.prom) and the HTML report of a real mixed build."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import events, run_doit
from daily_use import MixedBuild, hatchdoit, mixed
from projects import HatchProject

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.observe.agent_usage import stop_usage
from hatchdoit.observe.metrics import (
    compute_metrics,
    finish_results,
    percentile,
    summary_lines,
)
from hatchdoit.observe.prometheus import to_prometheus
from hatchdoit.project import load_project
from hatchdoit.records.models import LaunchRecord, StopRecord

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
        "paused": 0,
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
    # every finish run counted from the audit trail: A and B done, C escalated (once per build
    # that ran its finish step again)
    escalations = len(events(mixed.project, "escalated", taskspec_id="C"))
    assert escalations >= 1
    assert (taskspec["runs"], taskspec["ok"], taskspec["failed"], taskspec["errors"]) == (
        2 + escalations,
        2,
        escalations,
        0,
    )
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


def test_metrics_text_shows_steps_agents_attempts_and_usage(mixed: MixedBuild) -> None:
    done = hatchdoit(mixed.project, "metrics")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    steps = [line.split()[0] for line in lines[1:7]]
    assert steps == ["worktree", "factory", "summary", "checks", "qa", "taskspec"]
    escalations = len(events(mixed.project, "escalated", taskspec_id="C"))
    rate = f"{2 / (2 + escalations) * 100:.0f}%"
    finish = rf"taskspec\s+{2 + escalations}\s+2\s+{escalations}\s+0\s+{rate}\s+p50 +\d"
    assert re.match(finish, lines[6]), lines[6]
    assert re.match(r"qa\s+5\s+2\s+3\s+0\s+40%", lines[5]), lines[5]
    header = next(line for line in lines if line.startswith("agent profile"))
    assert header.split() == [
        *("agent", "profile", "runs", "factory", "qa", "ok", "failed", "errors", "success"),
        *("durations", "·", "usage"),
    ]
    agent = next(line for line in lines if line.startswith("scripted "))
    assert re.match(r"scripted\s+10\s+5\s+5\s+\d+\s+\d+\s+0\s+\d+%\s+p50 ", agent), agent
    assert agent.endswith("· tokens not reported · cost not reported")
    assert "attempts per TaskSpec: mean 1.667, max 2 (1 took 1, 2 took 2; 1 not started)" in lines
    assert "all agents: tokens not reported · cost not reported" in lines
    assert lines[-2:] == ["wrote _logs/metrics.json", "wrote _logs/metrics.prom"]


def test_finish_runs_count_under_older_inputs_too(project: HatchProject) -> None:
    """Another profile makes the TaskSpec pending under the current inputs; the finish step's
    runs still happened and succeeded."""
    project.add_taskspec("F")
    assert run_doit(project).returncode == 0
    done = hatchdoit(project, "metrics", "--json", env={"HATCHDOIT_AGENT": "generic"})
    metrics = json.loads(done.stdout)
    assert metrics["taskspecs"]["pending"] == 1 and metrics["taskspecs"]["done"] == 0
    row = metrics["steps"]["taskspec"]
    assert (row["runs"], row["ok"], row["failed"], row["errors"], row["success_rate"]) == (
        1,
        1,
        0,
        0,
        1.0,
    )


def test_finish_results_from_the_audit_trail() -> None:
    def ev(kind: str, tid: str = "T", **fields: object) -> dict[str, object]:
        return {"event": kind, "taskspec_id": tid, **fields}

    start, end = ev("step_start", step="taskspec"), ev("step_end", step="taskspec")
    error = ev("step_error", step="taskspec")
    trail = [
        ev("done", "T"),  # a done outside a finish run is not a run
        *(start, ev("done", attempt=1), end),  # ok
        *(start, ev("escalated", attempts=2), error),  # failed, not also an error
        *(start, error),  # raised before deciding
        *(start, ev("done", attempt=1)),  # killed after recording done: still ok
        *(start,),  # killed before deciding: not finished
        *(ev("step_start", "X", step="taskspec"), ev("done", "X")),  # not in the plan
    ]
    assert finish_results(trail, {"T"}) == {"ok": 2, "failed": 1, "error": 1}


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
    text = summary_lines(metrics)
    agent_line = next(line for line in text if line.startswith("claude-code-headless "))
    assert agent_line.endswith("· tokens 1,500 (input 1,200, output 300) · cost $0.0120")
    assert "all agents: tokens 1,500 (input 1,200, output 300) · cost $0.0120" in text
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
