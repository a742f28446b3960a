"""`hatchdoit report`: one self-contained HTML file (inline CSS, no scripts, no network assets):
FeatSpec and TaskSpec tables, a timeline of every step run across attempts, failure reasons,
QA feedback, provider pauses and faults, spend against the budgets, metrics, and relative links
to every artifact."""

from __future__ import annotations

import html
import os
from datetime import datetime
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

import hatchdoit
from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.clock import now_iso
from hatchdoit.observe.metrics import compute_metrics
from hatchdoit.observe.outcomes import AttemptDetail, TaskDetail, task_details
from hatchdoit.observe.provider_view import paused_info
from hatchdoit.observe.report_provider import providers_html
from hatchdoit.observe.report_review import review_html
from hatchdoit.observe.report_runners import runners_html
from hatchdoit.observe.status_models import StatusReport
from hatchdoit.observe.status_view import collect_status, format_age
from hatchdoit.observe.timeline import StepRun, step_runs
from hatchdoit.project import Project
from hatchdoit.records.audit import read_audit
from hatchdoit.records.waiting import waiting_text

STEP_LETTERS = {"worktree": "W", "factory": "F", "summary": "S", "checks": "C", "qa": "Q"}
FINISH_LETTERS = {"taskspec": "T", "integrate": "I"}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _badge(status: str | None) -> str:
    text = status or "none"
    return f'<span class="status status-{_e(text)}">{_e(text)}</span>'


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}s" if value < 60 else format_age(value)


class _Links:
    """Relative links from the report's directory to artifacts under the project root."""

    def __init__(self, project: Project, out: Path) -> None:
        self.root = project.root
        self.base = out.parent.resolve()

    def href(self, path: Path) -> str:
        target = path if path.is_absolute() else self.root / path
        return quote(os.path.relpath(target.resolve(), self.base))

    def link(self, label: str, path: Path) -> str:
        return f'<a href="{self.href(path)}">{_e(label)}</a>'

    def many(self, items: list[tuple[str, Path]]) -> str:
        if not items:
            return '<span class="empty">none</span>'
        return '<span class="links">' + "".join(self.link(lbl, p) for lbl, p in items) + "</span>"


def _cards(status_totals: dict[str, int], metrics: dict[str, Any]) -> str:
    cards: list[tuple[str, object]] = [("TaskSpecs", status_totals.get("taskspecs", 0))]
    cards += [(k, status_totals.get(k, 0)) for k in ("done", "escalated", "active", "pending")]
    if status_totals.get("paused"):
        cards.append(("paused", status_totals["paused"]))
    cards.append(("mean attempts", metrics["attempts"]["mean"] or "-"))
    cards.append(("build wall time", _seconds(metrics["wall_s"])))
    if metrics["cost_usd"] is not None:
        cards.append(("cost (USD)", f"{metrics['cost_usd']:.4f}"))
    build = metrics["spend"]["build"]
    if build["cap_usd"] is not None:
        cards.append(("spent of budget (USD)", f"{build['usd']:.2f} / {build['cap_usd']:.2f}"))
    if metrics["tokens"]:
        cards.append(("tokens", metrics["tokens"].get("total", "-")))
    body = "".join(f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in cards)
    return f'<div class="cards" id="summary">{body}</div>'


def _featspec_table(report: StatusReport) -> str:
    rows = []
    for feat in report.featspecs:
        rows.append(
            f"<tr><td><code>{_e(feat.featspec_id)}</code></td><td>{_e(feat.title)}</td>"
            f"<td>{_badge(feat.status)}</td>"
            f'<td class="num">{feat.counts.get("done", 0)}/{feat.total}</td>'
            f'<td class="num">{feat.counts.get("escalated", 0)}</td></tr>'
        )
    return (
        '<h2 id="featspecs">FeatSpecs</h2><table><thead><tr><th>FeatSpec</th><th>title</th>'
        "<th>status</th><th>done</th><th>escalated</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _taskspec_table(project: Project, details: dict[str, TaskDetail], links: _Links) -> str:
    rows = []
    for tid, d in details.items():
        agents = {project.profile_name(tid, "factory"), project.profile_name(tid, "qa")}
        deps = ", ".join(d.spec.depends_on) or "-"
        rows.append(
            f'<tr id="row-{_e(tid)}"><td class="nowrap"><a href="#ts-{_e(tid)}">'
            f"<code>{_e(tid)}</code></a></td>"
            f"<td>{_e(d.spec.title)}</td><td><code>{_e(d.spec.featspec)}</code></td>"
            f"<td>{_badge('blocked' if d.blocked_by and d.status == 'pending' else d.status)}</td>"
            f'<td class="num">{len(d.attempts)}/{project.attempt_count(tid)}</td>'
            f'<td class="num">{_seconds(d.duration if d.runs else None)}</td>'
            f"<td>{_e(', '.join(sorted(agents)))}</td><td>{_e(deps)}</td>"
            f"<td>{_delivered(d)}</td><td>{links.many(d.artifacts[1:])}</td></tr>"
        )
    return (
        '<h2 id="taskspecs">TaskSpecs</h2><table><thead><tr><th>TaskSpec</th><th>title</th>'
        "<th>FeatSpec</th><th>status</th><th>attempts</th><th>step time</th><th>agent</th>"
        "<th>depends on</th><th>delivered</th><th>result</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _delivered(detail: TaskDetail) -> str:
    """Where the TaskSpec's approved work went: the commit on the integration branch, or its PR."""
    delivered = detail.progress.get("integration")
    if not isinstance(delivered, dict):
        return "-"
    if delivered.get("pr"):
        url = str(delivered["pr"])
        return f'<a href="{_e(url)}">PR #{_e(url.rsplit("/", 1)[-1])}</a>'
    commit = str(delivered.get("commit") or "")[:12]
    branch = _e(delivered.get("branch"))
    return f"{_e(delivered.get('mode'))} into <code>{branch}</code> <code>{_e(commit)}</code>"


def _bar(run: StepRun, start: datetime, span: float, outcome: str | None) -> str:
    end = run.end or run.start
    left = (run.start - start).total_seconds() / span * 100
    width = max((end - run.start).total_seconds() / span * 100, 0.0)
    letter = STEP_LETTERS.get(run.step) or FINISH_LETTERS.get(run.step, "T")
    label = letter + (str(run.attempt) if run.attempt else "")
    title = f"{run.step} attempt {run.attempt}: {_seconds(run.duration)} ({run.result}"
    title += f", {outcome})" if outcome else ")"
    classes = f"tl-bar step-{run.step} result-{run.result}"
    if outcome == "failed":
        classes += " outcome-failed"
    return (
        f'<div class="{classes}" style="left:{left:.3f}%;width:{width:.3f}%" '
        f'title="{_e(title)}" data-step="{_e(run.step)}" data-attempt="{run.attempt}">'
        f"{_e(label)}</div>"
    )


def _timeline(details: dict[str, TaskDetail], runs: list[StepRun]) -> str:
    head = '<h2 id="timeline">Timeline</h2>'
    if not runs:
        return head + '<p class="empty">No step has run yet.</p>'
    start = min(r.start for r in runs)
    finish = max((r.end or r.start) for r in runs)
    span = max((finish - start).total_seconds(), 0.001)
    legend = "".join(
        f'<span><i class="step-{s}"></i>{s}</span>' for s in [*STEP_LETTERS, *FINISH_LETTERS]
    )
    rows = []
    for tid, d in details.items():
        outcome = {
            (step, a.attempt): rec.outcome for a in d.attempts for step, rec in a.receipts.items()
        }
        bars = "".join(
            _bar(run, start, span, outcome.get((run.step, run.attempt))) for run in d.runs
        )
        rows.append(
            f'<div class="tl-row" data-taskspec="{_e(tid)}"><div class="tl-label" '
            f'title="{_e(tid)}">{_e(tid)}</div><div class="tl-track">{bars}</div></div>'
        )
    ticks = "".join(f"<span>{_seconds(span * i / 4)}</span>" for i in range(5))
    return (
        f'{head}<p class="legend">{legend} (letters: step and attempt; striped: the step '
        "recorded a failed outcome; red outline: the step errored or never finished)</p>"
        f'<div class="timeline">{"".join(rows)}<div class="tl-axis">{ticks}</div></div>'
    )


def _attempt_row(a: AttemptDetail, links: _Links) -> str:
    factory = a.stops.get("factory")
    stop = f"{factory.event} ({factory.source})" if factory else "-"
    checks = "-"
    if a.checks is not None:
        checks = "passed" if a.checks.passed else "failed"
    reasons = "".join(f"<li>{_e(r)}</li>" for r in a.reasons)
    feedback = f'<div class="feedback">{_e(a.feedback)}</div>' if a.feedback else ""
    return (
        f'<tr class="attempt" data-attempt="{a.attempt}"><td class="num">{a.attempt}</td>'
        f"<td>{_e(stop)}</td><td>{_badge(checks if checks != '-' else None)}</td>"
        f"<td>{_badge(a.decision)}</td>"
        f'<td><ul class="reasons">{reasons}</ul>{feedback}</td>'
        f"<td>{links.many(a.artifacts)}</td></tr>"
    )


def _task_section(project: Project, d: TaskDetail, links: _Links) -> str:
    notes = []
    if d.progress.get("awaiting") == "review":
        notes.append(f"<p><b>Awaiting review</b>: <code>hatchdoit review {_e(d.tid)}</code></p>")
    elif (waiting := waiting_text(d.tid, d.progress)) is not None:  # records/waiting.py
        notes.append(f"<p><b>Waiting</b>: {_e(waiting)}</p>")
    if d.status == "paused":
        paused = paused_info(d.progress["paused"])
        said = f"{paused.text} ({paused.message})" if paused.message else paused.text
        notes.append(f'<p class="paused"><b>Paused</b>: {_e(said)}</p>')
    if d.escalated is not None and d.status == "escalated":
        items = "".join(f"<li>{_e(r)}</li>" for r in d.escalated.reasons)
        notes.append(f'<p><b>Escalated</b>:</p><ul class="reasons">{items}</ul>')
    if d.blocked_by:
        notes.append(f"<p><b>Blocked</b> by {_e(', '.join(d.blocked_by))}.</p>")
    error = d.last_error()
    if error and d.status not in ("done", "escalated"):
        notes.append(f"<p><b>Last step error</b>: {_e(error)}</p>")
    if d.done is not None and d.status == "done":
        notes.append(
            f"<p>Done on attempt {d.done.attempt}: branch <code>{_e(d.done.branch)}</code> "
            f"at <code>{_e(d.done.commit[:12])}</code>.</p>"
        )
    attempts = "".join(_attempt_row(a, links) for a in d.attempts)
    table = (
        "<table><thead><tr><th>attempt</th><th>factory stop</th><th>checks</th><th>QA</th>"
        "<th>reasons and QA feedback</th><th>artifacts</th></tr></thead>"
        f"<tbody>{attempts}</tbody></table>"
        if d.attempts
        else '<p class="empty">No attempt yet.</p>'
    )
    is_open = " open" if d.status != "done" else ""
    return (
        f'<details id="ts-{_e(d.tid)}" class="taskspec"{is_open}><summary>'
        f"<code>{_e(d.tid)}</code> {_e(d.spec.title)} {_badge(d.status)}</summary>"
        f"{''.join(notes)}<p>{links.many(d.artifacts)}</p>{table}{review_html(project, d)}"
        "</details>"
    )


def _failures(details: dict[str, TaskDetail]) -> str:
    items = []
    for tid, d in details.items():
        for a in d.attempts:
            if a.decision == "approved" or not a.reasons:
                continue
            reasons = "".join(f"<li>{_e(r)}</li>" for r in a.reasons)
            feedback = f'<div class="feedback">{_e(a.feedback)}</div>' if a.feedback else ""
            items.append(
                f'<h3><a href="#ts-{_e(tid)}"><code>{_e(tid)}</code></a> attempt {a.attempt} '
                f'{_badge(a.decision)}</h3><ul class="reasons">{reasons}</ul>{feedback}'
            )
    body = "".join(items) or '<p class="empty">No attempt was rejected.</p>'
    return f'<h2 id="failures">Failures and QA feedback</h2><div class="failures">{body}</div>'


def _metrics_tables(metrics: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:.0f}%"

    rows = "".join(
        f"<tr><td>{_e(step)}</td><td class='num'>{m['runs']}</td><td class='num'>{m['ok']}</td>"
        f"<td class='num'>{m['failed']}</td><td class='num'>{m['errors']}</td>"
        f"<td class='num'>{pct(m['success_rate'])}</td>"
        f"<td class='num'>{_seconds(m['duration_s']['p50'])}</td>"
        f"<td class='num'>{_seconds(m['duration_s']['p95'])}</td></tr>"
        for step, m in metrics["steps"].items()
    )
    agents = "".join(
        f"<tr><td>{_e(name)}</td><td class='num'>{m['runs']}</td>"
        f"<td class='num'>{pct(m['success_rate'])}</td>"
        f"<td class='num'>{_seconds(m['duration_s']['p50'])}</td>"
        f"<td class='num'>{_seconds(m['duration_s']['p95'])}</td>"
        f"<td class='num'>{_e(m['tokens'].get('total', '-'))}</td>"
        f"<td class='num'>{'-' if m['cost_usd'] is None else _e(m['cost_usd'])}</td></tr>"
        for name, m in metrics["agents"].items()
    )
    head = "<th>runs</th><th>ok</th><th>failed</th><th>errors</th><th>success</th>"
    return (
        '<h2 id="metrics">Metrics</h2><table id="step-metrics"><thead><tr><th>step</th>'
        f"{head}<th>p50</th><th>p95</th></tr></thead><tbody>{rows}</tbody></table>"
        '<table id="agent-metrics"><thead><tr><th>agent profile</th><th>runs</th>'
        "<th>success</th><th>p50</th><th>p95</th><th>tokens</th><th>cost (USD)</th></tr>"
        f"</thead><tbody>{agents}</tbody></table>"
    )


def render_report(project: Project, out: Path) -> str:
    """The report's HTML for the project as its files stand now; links are relative to `out`."""
    events = read_audit(project.layout.audit)
    runs = step_runs(events)
    details = task_details(project, runs)
    metrics = compute_metrics(project, events)
    links = _Links(project, out)
    status = collect_status(project, events=events, sessions=[])
    logs = project.layout.logs
    footer_links = links.many(
        [
            (name, logs / name)
            for name in ("audit.jsonl", "current_state.json", "metrics.json", "metrics.prom")
            if (logs / name).is_file()
        ]
    )
    content = "".join(
        [
            _cards(status.totals, metrics),
            _featspec_table(status),
            _taskspec_table(project, details, links),
            _timeline(details, runs),
            _failures(details),
            providers_html(status, metrics),
            runners_html(project),
            '<h2 id="details">TaskSpec details</h2>',
            *(_task_section(project, d, links) for d in details.values()),
            _metrics_tables(metrics),
            f"<p>Raw data: {footer_links}</p>",
        ]
    )
    template = Template(
        resources.files("hatchdoit.observe").joinpath("templates/report.html").read_text("utf-8")
    )
    return template.substitute(
        title=_e(f"hatchdoit report · {project.root.name}"),
        meta=_e(
            f"project {project.root} · planning repo {project.specs_root} · confinement "
            f"{status.build.confinement or 'not recorded'}"
        ),
        content=content,
        generated=_e(now_iso()),
        version=_e(hatchdoit.__version__),
    )


def write_report(project: Project, out: Path | None = None) -> Path:
    """Write the report (default `_logs/report.html`) atomically and return its path."""
    out = (out or project.layout.logs / "report.html").absolute()
    write_atomic(out, render_report(project, out))
    return out
