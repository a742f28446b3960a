"""`hatchdoit status`: where every TaskSpec stands, grouped by FeatSpec, read from the artifacts
(so it is right while a build runs and after a crash) plus the audit trail for time and events.
Read-only: it never writes `current_state.json`, so `watch` can call it on every file event."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hatchdoit.audit import read_audit
from hatchdoit.live import SessionView, running_build, running_sessions
from hatchdoit.progress import taskspec_progress
from hatchdoit.project import Project
from hatchdoit.clock import now_iso
from hatchdoit.timeline import age_seconds, describe, last_events, step_runs

State = Literal["pending", "running", "interrupted", "failed", "active", "done", "escalated"]
STATE_STYLES = {
    "pending": "dim",
    "running": "bold cyan",
    "interrupted": "yellow",
    "failed": "bold red",
    "active": "cyan",
    "done": "green",
    "escalated": "bold red",
}
FEAT_STYLES = {"pending": "dim", "in_progress": "cyan", "blocked": "bold red", "done": "green"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LastEvent(_Model):
    ts: str
    event: str
    text: str


class SessionInfo(_Model):
    session: str
    role: str
    attempt: int
    profile: str
    attach: str
    elapsed_s: float | None
    idle_s: float | None
    pane_log: str


class TaskRow(_Model):
    taskspec_id: str
    title: str
    featspec: str
    status: Literal["pending", "active", "done", "escalated"]
    state: State = Field(description="status refined by the audit trail and live sessions")
    step: str = Field(description="the step running now, else the last one finished")
    attempt: int
    max_attempts: int
    next: str | None = None
    decision: str | None = None
    reasons: list[str] = Field(default_factory=list)
    agents: dict[str, str] = Field(description="profile per role (factory, qa)")
    depends_on: list[str]
    last_event: LastEvent | None
    age_s: float | None = Field(description="seconds since the TaskSpec's last audit event")
    session: SessionInfo | None = None


class FeatRow(_Model):
    featspec_id: str
    title: str
    status: Literal["pending", "in_progress", "blocked", "done"]
    total: int
    counts: dict[str, int]


class BuildInfo(_Model):
    running: bool
    pid: int | None


class StatusReport(_Model):
    """The `--json` document of `hatchdoit status`."""

    generated_at: str
    root: str
    specs: str
    build: BuildInfo
    totals: dict[str, int]
    featspecs: list[FeatRow]
    taskspecs: list[TaskRow]


def _state(progress: dict[str, Any], last: dict[str, Any] | None, building: bool) -> State:
    status = str(progress["status"])
    if status in ("done", "escalated"):
        return status  # type: ignore[return-value]
    kind = last.get("event") if last else None
    if kind == "step_error":
        return "failed"
    if kind is not None and kind not in ("step_end", "done", "escalated"):
        return "running" if building else "interrupted"
    return "pending" if status == "pending" else "active"


def _session_info(view: SessionView) -> SessionInfo:
    return SessionInfo(
        session=view.session,
        role=view.role,
        attempt=view.attempt,
        profile=view.profile,
        attach=view.attach,
        elapsed_s=None if view.elapsed_s is None else round(view.elapsed_s, 1),
        idle_s=None if view.idle_s is None else round(view.idle_s, 1),
        pane_log=view.pane_log,
    )


def _rollup(fid: str, title: str, rows: list[TaskRow]) -> FeatRow:
    counts: Counter[str] = Counter(row.status for row in rows)
    total = len(rows)
    if total and counts["done"] == total:
        status: Literal["pending", "in_progress", "blocked", "done"] = "done"
    elif counts["escalated"]:
        status = "blocked"
    elif counts["active"] or counts["done"]:
        status = "in_progress"
    else:
        status = "pending"
    return FeatRow(featspec_id=fid, title=title, status=status, total=total, counts=dict(counts))


def collect_status(
    project: Project,
    events: list[dict[str, Any]] | None = None,
    sessions: list[SessionView] | None = None,
) -> StatusReport:
    """Build the status document; `events`/`sessions` may be passed in by a caller that keeps
    them up to date incrementally (watch)."""
    layout = project.layout
    now = datetime.now(UTC)
    if events is None:
        events = read_audit(layout.audit)
    latest = last_events(events)
    open_steps = {run.taskspec_id: run for run in step_runs(events) if run.result == "open"}
    pid = running_build(layout)
    if sessions is None:
        sessions = running_sessions(layout, project.config.tmux_socket, now)
    by_tid = {s.taskspec_id: s for s in sessions}
    rows: list[TaskRow] = []
    for tid in project.plan.taskspecs:
        spec = project.taskspec(tid)
        progress = taskspec_progress(project, tid)
        last = latest.get(tid)
        session = by_tid.get(tid)
        state = _state(progress, last, pid is not None)
        if session is not None and state not in ("done", "escalated"):
            state = "running"
        step, attempt = str(progress["step"]), int(progress["attempt"])
        if state in ("running", "interrupted") and tid in open_steps:
            step, attempt = open_steps[tid].step, open_steps[tid].attempt or attempt
        rows.append(
            TaskRow(
                taskspec_id=tid,
                title=spec.title,
                featspec=spec.featspec,
                status=progress["status"],
                state=state,
                step=step,
                attempt=attempt,
                max_attempts=project.max_attempts(tid),
                next=progress.get("next"),
                decision=progress.get("decision"),
                reasons=list(progress.get("reasons", [])),
                agents={role: project.profile_name(tid, role) for role in ("factory", "qa")},
                depends_on=list(spec.depends_on),
                last_event=None
                if last is None
                else LastEvent(
                    ts=str(last.get("ts")), event=str(last["event"]), text=describe(last)
                ),
                age_s=None if last is None else round(age_seconds(last.get("ts"), now) or 0.0, 1),
                session=None if session is None else _session_info(session),
            )
        )
    feats = [
        _rollup(fid, loaded.spec.title, [r for r in rows if r.featspec == fid])
        for fid, loaded in project.plan.featspecs.items()
    ]
    totals: Counter[str] = Counter(row.status for row in rows)
    return StatusReport(
        generated_at=now_iso(),
        root=str(project.root),
        specs=str(project.specs_root),
        build=BuildInfo(running=pid is not None, pid=pid if pid and pid > 0 else None),
        totals={"taskspecs": len(rows), **{k: totals.get(k, 0) for k in STATUS_KEYS}},
        featspecs=feats,
        taskspecs=rows,
    )


STATUS_KEYS = ("pending", "active", "done", "escalated")


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h{(seconds % 3600) // 60:02.0f}m"
    return f"{seconds // 86400:.0f}d"


def _agents(row: TaskRow) -> str:
    factory, qa = row.agents.get("factory", "?"), row.agents.get("qa", "?")
    return factory if factory == qa else f"{factory}/{qa}"


def status_table(report: StatusReport, *, title: str | None = None) -> Table:
    """TaskSpecs grouped under a header row per FeatSpec with its rollup."""
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("TaskSpec", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("attempt", justify="right", no_wrap=True)
    table.add_column("age", justify="right", no_wrap=True)
    table.add_column("last event", overflow="ellipsis", max_width=48)
    table.add_column("agent", no_wrap=True)
    rows_by_feat: dict[str, list[TaskRow]] = {}
    for row in report.taskspecs:
        rows_by_feat.setdefault(row.featspec, []).append(row)
    for feat in report.featspecs:
        rows = rows_by_feat.get(feat.featspec_id, [])
        done = feat.counts.get("done", 0)
        table.add_row(
            Text(feat.featspec_id, "bold"),
            Text(feat.status, FEAT_STYLES.get(feat.status, "")),
            "",
            "",
            "",
            Text(f"{feat.title} · {done}/{feat.total} done", "italic"),
            "",
            end_section=not rows,
        )
        for index, row in enumerate(rows):
            attempt = f"{row.attempt}/{row.max_attempts}" if row.attempt else "-"
            table.add_row(
                Text("  " + row.taskspec_id),
                Text(row.state, STATE_STYLES.get(row.state, "")),
                row.step,
                attempt,
                format_age(row.age_s),
                row.last_event.text if row.last_event else "",
                _agents(row),
                end_section=index == len(rows) - 1,
            )
    return table


def summary_line(report: StatusReport) -> Text:
    totals = report.totals
    counts = ", ".join(
        f"{totals[key]} {key}" for key in ("done", "escalated", "active", "pending") if totals[key]
    )
    build = (
        f"build running (pid {report.build.pid})" if report.build.running else "no build running"
    )
    return Text(f"{totals['taskspecs']} TaskSpec(s): {counts or 'none'} · {build}")


def render_status(report: StatusReport) -> RenderableType:
    return Group(status_table(report, title=f"hatchdoit · {report.specs}"), summary_line(report))
