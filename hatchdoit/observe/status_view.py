"""`hatchdoit status`: where every TaskSpec stands, grouped by FeatSpec, read from the artifacts
(so it is right while a build runs and after a crash) plus the audit trail for time and events.
Read-only: it never writes `current_state.json`, so `watch` can call it on every file event.

A TaskSpec is `running` only while a build holds the build lock and the TaskSpec's latest step,
started by that build, has not ended. An agent session alive with nobody waiting on it (the
build was stopped) is `unattended`; artifacts made for older inputs (an edited TaskSpec, another
agent profile, changed templates or limits) are `stale`, not `pending`. A TaskSpec whose
provider failed is `paused` (with what and until when), never `running` or `failed`; breakers
not closed and the spend against the budgets come along (observe/provider_view.py)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from hatchdoit.core.clock import now_iso
from hatchdoit.layout import ROLES, Layout
from hatchdoit.observe.live import SessionView, build_lock, running_build, running_sessions
from hatchdoit.observe.progress import StateFiles, taskspec_progress
from hatchdoit.observe.provider_view import (
    budgets_set,
    build_spend_info,
    open_breakers,
    paused_info,
    taskspec_spend_info,
    with_runs,
)
from hatchdoit.observe.staleness import StaleInfo, stale_info
from hatchdoit.observe.status_models import (
    BuildInfo,
    FeatRow,
    LastEvent,
    SessionInfo,
    State,
    StatusReport,
    TaskRow,
)
from hatchdoit.observe.timeline import StepRun, age_seconds, describe, last_events, step_runs
from hatchdoit.project import Project
from hatchdoit.records.audit import read_audit
from hatchdoit.records.waiting import WAITING_STATES, waiting_state, waiting_text

CLOCK_SLACK = 1.0  # seconds: audit times are cut to milliseconds, the lock's mtime is not


def _confinement(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["label"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _state(
    status: str,
    run: StepRun | None,
    build_started: float | None,
    session: bool,
    stale: StaleInfo | None,
    awaiting: str | None = None,
) -> State:
    """One word for where a TaskSpec stands (see STATES); `awaiting`: the state of what it
    waits for (records/waiting.py)."""
    if status in ("done", "escalated", "paused"):
        return status  # type: ignore[return-value]
    if awaiting:
        return awaiting  # type: ignore[return-value]
    if run is not None and run.result == "open":
        if build_started is not None and run.start.timestamp() >= build_started - CLOCK_SLACK:
            return "running"
        return "unattended" if session else "interrupted"
    if session and build_started is None:
        return "unattended"  # with a build, a session between two steps of its TaskSpec is normal
    if run is not None and run.result == "error":
        return "failed"
    if stale is not None:
        return "stale"
    return "pending" if status == "pending" else "active"


def _delivered_step(delivered: dict[str, str]) -> str:
    """`merged 1a2b3c4d`, `PR #12`: what the step column says of delivered work."""
    if delivered.get("pr"):
        return "PR #" + delivered["pr"].rsplit("/", 1)[-1]
    done = {"merge": "merged", "squash": "squashed", "rebase": "rebased"}
    return f"{done.get(delivered.get('mode', ''), 'delivered')} {delivered.get('commit', '')[:8]}"


def _build_started(layout: Layout, pid: int | None) -> float | None:
    """When the running build took its lock (it rewrites the file then), None with no build."""
    if pid is None:
        return None
    try:
        return build_lock(layout).stat().st_mtime
    except OSError:
        return None


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
    elif counts["active"] or counts["paused"] or counts["done"]:
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
    latest_run = {run.taskspec_id: run for run in step_runs(events)}  # the last one wins
    pid = running_build(layout)
    build_started = _build_started(layout, pid)
    if sessions is None:
        sessions = running_sessions(layout, project.config.tmux_socket, now)
    by_tid = {s.taskspec_id: s for s in sessions}
    # spend is read from every run's stop file: only when a budget asks (metrics and the report
    # show it always); 1000 TaskSpecs all done took 0.92 s instead of 0.56 s with it
    ran = with_runs(layout) if budgets_set(project) else None
    rows: list[TaskRow] = []
    for tid in project.plan.taskspecs:
        spec = project.taskspec(tid)
        files = StateFiles(layout, tid)
        progress = taskspec_progress(project, tid, files)
        last = latest.get(tid)
        session = by_tid.get(tid)
        run = latest_run.get(tid)
        stale = stale_info(project, tid, files) if progress["status"] == "pending" else None
        awaiting = waiting_state(progress)
        state = _state(progress["status"], run, build_started, session is not None, stale, awaiting)
        if progress.get("setup_failed") and state != "running":
            state = "setup failed"
        step, attempt = str(progress["step"]), int(progress["attempt"])
        running_for = None
        if (
            run is not None
            and run.result == "open"
            and state not in ("done", "escalated", "paused")
        ):
            step, attempt = run.step, run.attempt or attempt
        if run is not None and state == "running":
            running_for = round(max(0.0, (now - run.start).total_seconds()), 1)
        delivered = progress.get("integration")
        if delivered and state == "done":
            step = _delivered_step(delivered)
        rows.append(
            TaskRow(
                taskspec_id=tid,
                title=spec.title,
                featspec=spec.featspec,
                status=progress["status"],
                state=state,
                step=step,
                attempt=attempt,
                max_attempts=project.attempt_count(tid),
                next=progress.get("next"),
                decision=progress.get("decision"),
                reasons=list(progress.get("reasons", [])),
                agents={role: project.profile_name(tid, role) for role in ROLES},
                depends_on=list(spec.depends_on),
                last_event=None
                if last is None
                else LastEvent(
                    ts=str(last.get("ts")), event=str(last["event"]), text=describe(last)
                ),
                age_s=None if last is None else round(age_seconds(last.get("ts"), now) or 0.0, 1),
                session=None if session is None else _session_info(session),
                running_for_s=running_for,
                stale=stale,
                integration=delivered,
                paused=paused_info(progress["paused"]) if "paused" in progress else None,
                waiting=waiting_text(tid, progress),
                spend=None if ran is None else taskspec_spend_info(project, tid, tid in ran),
            )
        )
    by_feat: dict[str, list[TaskRow]] = {}
    for row in rows:
        by_feat.setdefault(row.featspec, []).append(row)
    feats = [
        _rollup(fid, loaded.spec.title, by_feat.get(fid, []))
        for fid, loaded in project.plan.featspecs.items()
    ]
    totals: Counter[str] = Counter(
        row.state if row.state in (*WAITING_STATES, "setup failed") else row.status for row in rows
    )
    return StatusReport(
        generated_at=now_iso(),
        root=str(project.root),
        specs=str(project.specs_root),
        build=BuildInfo(
            running=pid is not None,
            pid=pid if pid and pid > 0 else None,
            started_at=None
            if build_started is None
            else datetime.fromtimestamp(build_started, UTC).isoformat(timespec="milliseconds"),
            confinement=_confinement(layout.confinement_record),
        ),
        totals={"taskspecs": len(rows), **{k: totals.get(k, 0) for k in STATUS_KEYS}},
        featspecs=feats,
        taskspecs=rows,
        providers=open_breakers(layout),
        spend=build_spend_info(project, [row.spend for row in rows if row.spend is not None]),
    )


STATUS_KEYS = ("pending", "active", "paused", "done", "escalated", *WAITING_STATES, "setup failed")


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
