"""`hatchdoit watch`: a live dashboard of the build. It redraws when files under `_logs/` change
(inotify through watchdog), and once a second for the clocks: the TaskSpec table, the steps
running now, the agent sessions alive in tmux with the command that attaches to each, and the
latest audit events; paused TaskSpecs, provider breakers that are not closed and the build's
spend as `hatchdoit status` says them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from hatchdoit.observe.live import SessionView, running_sessions
from hatchdoit.observe.status_models import STATES, StatusReport
from hatchdoit.observe.status_render import provider_notes, state_notes, status_table
from hatchdoit.observe.status_view import collect_status, format_age
from hatchdoit.observe.timeline import AuditTail, describe, parse_ts
from hatchdoit.project import Project

RECENT_EVENTS = 10
MIN_REDRAW_GAP = 0.2  # seconds: pane logs change many times a second while agents print
IGNORED_PARTS = ("locks",)


class _Changed(FileSystemEventHandler):
    """Wakes the dashboard on changes that can alter what it shows."""

    def __init__(self, logs: Path, event: threading.Event) -> None:
        self.logs = logs
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        path = Path(str(event.src_path))
        try:
            parts = path.relative_to(self.logs).parts
        except ValueError:
            parts = ()
        if parts and (parts[0] in IGNORED_PARTS or parts[-1].startswith(".doit.db")):
            return
        self.event.set()


class Dashboard:
    """Keeps the audit trail read incrementally and renders one frame on demand."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.audit = AuditTail(project.layout.audit)
        self.seen_build = False
        self.report: StatusReport | None = None
        self.sessions: list[SessionView] = []

    def refresh(self) -> None:
        self.audit.read()
        layout, config = self.project.layout, self.project.config
        self.sessions = running_sessions(layout, config.tmux_socket)
        self.report = collect_status(self.project, events=self.audit.events, sessions=self.sessions)
        self.seen_build = self.seen_build or self.report.build.running

    def finished(self) -> bool:
        """No build runs, and either a build ran while we watched or every TaskSpec is already
        settled (done or escalated). Sessions a stopped build left alive do not keep us: no
        build will change the table until someone reruns doit."""
        report = self.report
        if report is None or report.build.running:
            return False
        settled = all(row.status in ("done", "escalated") for row in report.taskspecs)
        return self.seen_build or settled

    def render(self) -> RenderableType:
        report = self.report
        assert report is not None, "refresh() first"
        now = datetime.now(UTC)
        build = (
            Text(f"build running (pid {report.build.pid})", "bold cyan")
            if report.build.running
            else Text("no build running", "dim")
        )
        totals = ", ".join(
            f"{report.totals[k]} {k}"
            for k in ("done", "escalated", "paused", "active", "pending")
            if report.totals.get(k)
        )
        header = Text.assemble(
            ("hatchdoit watch", "bold"),
            f" · {self.project.root} · ",
            build,
            f" · {report.totals['taskspecs']} TaskSpec(s): {totals or 'none'}",
            f" · {now.astimezone().strftime('%H:%M:%S')} · Ctrl-C quits",
        )
        return Group(
            header,
            status_table(report),
            *state_notes(report),
            *provider_notes(report),
            self._steps_table(report),
            self._sessions_table(report),
            self._events_table(now),
        )

    def _steps_table(self, report: StatusReport) -> RenderableType:
        running = [row for row in report.taskspecs if row.state == "running"]
        if not running:
            return Text("Steps running: none", "dim")
        table = Table(title="Steps running", title_justify="left", expand=False)
        for column in ("TaskSpec", "step", "attempt", "running for"):
            table.add_column(column, no_wrap=True)
        for row in running:
            table.add_row(
                row.taskspec_id, row.step, str(row.attempt or "-"), format_age(row.running_for_s)
            )
        return table

    def _sessions_table(self, report: StatusReport) -> RenderableType:
        if not self.sessions:
            return Text("Agent sessions: none alive", "dim")
        states = {row.taskspec_id: row.state for row in report.taskspecs}
        table = Table(title="Agent sessions", title_justify="left", expand=False)
        columns = ("TaskSpec", "role", "attempt", "profile", "elapsed", "idle", "state")
        for column in (*columns, "attach with"):
            table.add_column(column, no_wrap=True)
        for s in self.sessions:
            state = states.get(s.taskspec_id, "?")
            table.add_row(
                s.taskspec_id,
                s.role,
                str(s.attempt),
                s.profile,
                format_age(s.elapsed_s),
                format_age(s.idle_s),
                Text(state, STATES[state][1] if state in STATES else ""),
                Text(s.attach, "bold"),
            )
        return table

    def _events_table(self, now: datetime) -> RenderableType:
        recent = self.audit.events[-RECENT_EVENTS:]
        if not recent:
            return Text("Recent events: none yet", "dim")
        table = Table(title="Recent events", title_justify="left", expand=False)
        for column in ("time", "ago", "TaskSpec", "event"):
            table.add_column(column, no_wrap=column != "event")
        for event in reversed(recent):
            ts = parse_ts(event.get("ts"))
            clock = ts.astimezone().strftime("%H:%M:%S") if ts else "?"
            ago = format_age((now - ts).total_seconds()) if ts else "-"
            table.add_row(clock, ago, str(event.get("taskspec_id", "")), describe(event))
        return table


def run_watch(
    project: Project,
    *,
    once: bool = False,
    exit_when_idle: bool = False,
    tick: float = 1.0,
    console: Console | None = None,
) -> int:
    """Draw the dashboard until Ctrl-C (or, with `exit_when_idle`, until the build is over)."""
    console = console or Console()
    dashboard = Dashboard(project)
    dashboard.refresh()
    if once:
        console.print(dashboard.render())
        return 0
    woke = threading.Event()
    logs = project.layout.logs
    observer = Observer()
    observer.daemon = True
    scheduled = False
    observer.start()
    pause = threading.Event()  # never set: a deliberate redraw rate limit, not a wait for work
    try:
        with Live(dashboard.render(), console=console, auto_refresh=False) as live:
            last = time.monotonic()
            while not (exit_when_idle and dashboard.finished()):
                if not scheduled and logs.is_dir():
                    observer.schedule(_Changed(logs, woke), str(logs), recursive=True)
                    scheduled = True
                woke.wait(tick)
                woke.clear()
                gap = MIN_REDRAW_GAP - (time.monotonic() - last)
                if gap > 0:
                    pause.wait(gap)
                dashboard.refresh()
                live.update(dashboard.render(), refresh=True)
                last = time.monotonic()
    except KeyboardInterrupt:
        return 0
    finally:
        observer.stop()
        observer.join(timeout=2)
    return 0
