"""The report's "Providers and spend" section (observe/report.py): the TaskSpecs paused on their
provider, the breakers that are not closed, the provider faults by class, what each TaskSpec and
the build spent against their caps, and the TaskSpecs a spend cap escalated."""

from __future__ import annotations

import html
from typing import Any

from hatchdoit.observe.provider_view import moment_text
from hatchdoit.observe.status_models import StatusReport


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def _table(table_id: str, head: tuple[str, ...], rows: list[str]) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        f'<table id="{table_id}"><thead><tr>{cells}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _paused(status: StatusReport) -> str:
    rows = [
        f'<tr data-taskspec="{_e(row.taskspec_id)}"><td><code>{_e(row.taskspec_id)}</code></td>'
        f"<td>{_e(p.role)} {p.attempt}</td><td>{_e(p.fault)}</td><td>{_e(p.provider)}</td>"
        f"<td>{_e(moment_text(p.resume_at) if p.resume_at else 'when a probe answers')}</td>"
        f'<td class="num">{p.pauses}</td><td>{_e(p.message)}</td></tr>'
        for row in status.taskspecs
        if (p := row.paused) is not None
    ]
    if not rows:
        return '<p class="empty">No TaskSpec is paused.</p>'
    head = ("TaskSpec", "run", "fault", "provider", "resumes", "pauses", "message")
    return _table("paused", head, rows)


def _breakers(status: StatusReport) -> str:
    if not status.providers:
        return "<p>Every provider breaker is closed.</p>"
    items = "".join(
        f'<li class="breaker breaker-{_e(p.state)}">{_e(p.text)}</li>' for p in status.providers
    )
    return f'<ul id="breakers">{items}</ul>'


def _faults(providers: dict[str, Any]) -> str:
    if not providers["faults"]:
        return '<p class="empty">No provider fault.</p>'
    rows = [
        f"<tr><td>{_e(cls)}</td><td class='num'>{n}</td>"
        f"<td class='num'>{providers['pauses'].get(cls, 0)}</td></tr>"
        for cls, n in sorted(providers["faults"].items())
    ]
    table = _table("provider-faults", ("fault class", "faults", "pauses"), rows)
    return f"{table}<p>Time paused: {providers['paused_s']:g}s.</p>"


def _spend(spend: dict[str, Any]) -> str:
    build = spend["build"]
    rows = [
        f'<tr data-taskspec="{_e(tid)}"><td><code>{_e(tid)}</code></td>'
        f"<td class='num'>{_usd(s['usd'])}</td><td class='num'>{_usd(s['cap_usd'])}</td>"
        f"<td class='num'>{s['runs']}</td><td class='num'>{s['unknown']}</td></tr>"
        for tid, s in spend["per_taskspec"].items()
    ]
    rows.append(
        f"<tr class='build'><td><b>build</b></td><td class='num'>{_usd(build['usd'])}</td>"
        f"<td class='num'>{_usd(build['cap_usd'])}</td><td class='num'>{build['runs']}</td>"
        f"<td class='num'>{build['unknown']}</td></tr>"
    )
    head = ("TaskSpec", "spent", "budget", "runs", "runs with no reported spend")
    escalations = "".join(
        f"<li><code>{_e(e['taskspec_id'])}</code>: {_e(e['reason'])}</li>"
        for e in spend["budget_escalations"]
    )
    escalated = (
        f'<p><b>Escalated by budget</b>:</p><ul id="budget-escalations">{escalations}</ul>'
        if escalations
        else '<p class="empty">No TaskSpec was escalated by its budget.</p>'
    )
    return _table("spend", head, rows) + escalated


def providers_html(status: StatusReport, metrics: dict[str, Any]) -> str:
    """The section, from the status document and the metrics (observe/provider_metrics.py)."""
    return (
        '<h2 id="providers">Providers and spend</h2>'
        f"<h3>Paused TaskSpecs</h3>{_paused(status)}"
        f"<h3>Provider breakers</h3>{_breakers(status)}"
        f"<h3>Provider faults</h3>{_faults(metrics['providers'])}"
        f"<h3>Spend and budgets</h3>{_spend(metrics['spend'])}"
    )
