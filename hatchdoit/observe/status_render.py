"""The status report (observe/status_view.py) as rich renderables: the table of TaskSpecs grouped
by FeatSpec, the notes on states that ask something of the user, and the summary line. Used by
`hatchdoit status` and `hatchdoit watch`."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from hatchdoit.observe.provider_view import build_spend_text
from hatchdoit.observe.status_models import STATES, FeatRow, StatusReport, TaskRow
from hatchdoit.observe.status_view import format_age
from hatchdoit.records.waiting import WAITING_STATES

if TYPE_CHECKING:
    from rich.table import Table

FEAT_STYLES = {"pending": "dim", "in_progress": "cyan", "blocked": "bold red", "done": "green"}
# Above this many TaskSpecs the table lists by default only those that ask for attention; done
# and pending ones, and done and pending FeatSpecs, are counted in a note below the table.
FULL_LIST_LIMIT = 60
QUIET_STATES = ("done", "pending")  # of a TaskSpec, and of a FeatSpec


def _agents(row: TaskRow) -> str:
    factory, qa = row.agents.get("factory", "?"), row.agents.get("qa", "?")
    return factory if factory == qa else f"{factory}/{qa}"


def lists_every_taskspec(report: StatusReport, every: bool | None) -> bool:
    """Whether the table has a row per TaskSpec (`every`), or, by default for a plan too big to
    take in at a glance, rows only for TaskSpecs that are neither done nor pending."""
    return every if every is not None else len(report.taskspecs) <= FULL_LIST_LIMIT


def status_table(
    report: StatusReport, *, title: str | None = None, every: bool | None = None
) -> RenderableType:
    """TaskSpecs grouped under a header row per FeatSpec with its rollup (see
    lists_every_taskspec for which TaskSpecs get a row; a big plan also leaves out its done and
    pending FeatSpecs, see listed_featspecs). One line per row in an 80-column terminal: the
    last event is cut, never wrapped, and when every TaskSpec has the same agent profiles they
    are named in the title instead of a column. A blank line ends each FeatSpec's group of
    TaskSpecs; FeatSpecs with none listed follow each other directly, and with no TaskSpec
    listed at all the table has only the FeatSpec columns (no table at all with no row)."""
    profiles = {_agents(row) for row in report.taskspecs}
    one_agent = len(profiles) == 1 and title is not None  # named in the title, if there is one
    if one_agent:
        title = f"{title} · agent {profiles.pop()}"
    rows_by_feat = _listed_rows(report, every)
    feats = listed_featspecs(report, every, rows_by_feat)
    if not feats:
        return Text(title or "", "table.title")
    if not rows_by_feat:
        return _featspec_table(feats, title)
    table = _table(title)
    table.add_column("TaskSpec", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("attempt", justify="right", no_wrap=True)
    table.add_column("age", justify="right", no_wrap=True)
    # the flexible column: the others keep their width, this one takes what is left
    table.add_column("last event", no_wrap=True, overflow="ellipsis", ratio=1)
    if not one_agent:
        table.add_column("agent", no_wrap=True)
    spend = report.spend is not None  # a column only when the build's spend is told
    if spend:
        table.add_column("spend", justify="right", no_wrap=True)
    for feat in feats:
        rows = rows_by_feat.get(feat.featspec_id, [])
        cells: list[str | Text] = [
            _feat_id(feat),
            _feat_status(feat),
            "",
            "",
            "",
            _feat_title(feat),
        ]
        table.add_row(*cells, *([] if one_agent else [""]), *([""] if spend else []))
        for index, row in enumerate(rows):
            attempt = f"{row.attempt}/{row.max_attempts}" if row.attempt else "-"
            cells = [
                Text("  " + row.taskspec_id),
                Text(row.state, STATES[row.state][1]),
                row.step,
                attempt,
                format_age(row.age_s),
                _event_text(row),
            ]
            agent = [] if one_agent else [_agents(row)]
            money = [_spend_cell(row)] if spend else []
            table.add_row(*cells, *agent, *money, end_section=index == len(rows) - 1)
    return table


def _event_text(row: TaskRow) -> str | Text:
    """The last event, or for a paused or waiting TaskSpec what it waits for (which says
    more)."""
    if row.paused is not None:
        return Text(row.paused.text, STATES["paused"][1])
    if row.waiting is not None:
        return Text(row.waiting, STATES[row.state][1])
    return row.last_event.text if row.last_event else ""


def _spend_cell(row: TaskRow) -> str | Text:
    if row.spend is None:
        return "-"
    cap = row.spend.cap_usd
    over = cap is not None and row.spend.usd >= cap
    text = f"${row.spend.usd:.2f}" + (f"/${cap:.2f}" if cap is not None else "")
    return Text(text, "bold red") if over else text


def _listed_rows(report: StatusReport, every: bool | None) -> dict[str, list[TaskRow]]:
    """FeatSpec id -> its TaskSpecs that get a row (lists_every_taskspec)."""
    listed = lists_every_taskspec(report, every)
    rows_by_feat: dict[str, list[TaskRow]] = {}
    for row in report.taskspecs:
        if listed or row.state not in QUIET_STATES:
            rows_by_feat.setdefault(row.featspec, []).append(row)
    return rows_by_feat


def listed_featspecs(
    report: StatusReport, every: bool | None, rows_by_feat: dict[str, list[TaskRow]]
) -> list[FeatRow]:
    """The FeatSpecs with a row: all of them, or, where the TaskSpecs are not all listed (a big
    plan), those in progress or blocked and those with a TaskSpec listed (`rows_by_feat`, from
    _listed_rows); the done and pending ones are counted in the unlisted note. (rich draws a
    table row in ~0.5 ms: a hundred FeatSpec rows were a third of `hatchdoit status` on a
    1000-TaskSpec plan, and no glance.)"""
    if lists_every_taskspec(report, every):
        return list(report.featspecs)
    return [
        feat
        for feat in report.featspecs
        if feat.status not in QUIET_STATES or feat.featspec_id in rows_by_feat
    ]


def _featspec_table(feats: list[FeatRow], title: str | None) -> Table:
    """A row per FeatSpec, for when no TaskSpec is listed: the TaskSpec columns would be empty."""
    table = _table(title)
    table.add_column("FeatSpec", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("title", no_wrap=True, overflow="ellipsis", ratio=1)
    for feat in feats:
        table.add_row(_feat_id(feat), _feat_status(feat), _feat_title(feat))
    return table


def _table(title: str | None) -> Table:
    from rich import box  # imported here: a big plan all done or pending draws no rich Table
    from rich.table import Table

    return Table(
        title=title,
        title_justify="left",
        expand=True,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )


def _feat_id(feat: FeatRow) -> Text:
    return Text(feat.featspec_id, "bold")


def _feat_status(feat: FeatRow) -> Text:
    return Text(feat.status, FEAT_STYLES.get(feat.status, ""))


def _feat_title(feat: FeatRow) -> Text:
    return Text(f"{feat.title} · {feat.counts.get('done', 0)}/{feat.total} done", "italic")


SUMMARY_ORDER = (
    "done", "escalated", "setup failed", *WAITING_STATES, "paused", "active", "pending"
)  # fmt: skip


def summary_line(report: StatusReport) -> Text:
    totals = report.totals
    counts = ", ".join(f"{totals[key]} {key}" for key in SUMMARY_ORDER if totals.get(key))
    build = (
        f"build running (pid {report.build.pid})" if report.build.running else "no build running"
    )
    if report.build.confinement in ("unconfined", "off"):  # README: What an agent can touch
        build += f" · agents and tests ran {report.build.confinement.upper()}"
    return Text(f"{totals['taskspecs']} TaskSpec(s): {counts or 'none'} · {build}")


EXPLAINED_STATES = ("stale", "unattended", "interrupted", "failed")


def state_notes(report: StatusReport) -> list[Text]:
    """One line per state that asks something of the user: how many, what it means."""
    counts: Counter[str] = Counter(row.state for row in report.taskspecs)
    notes = []
    for state in (s for s in EXPLAINED_STATES if counts[s]):
        meaning, style = STATES[state]
        line = f"{counts[state]} {state}: {meaning}"
        changes = {
            ", ".join(row.stale.changed)
            for row in report.taskspecs
            if row.stale and row.state == state
        }
        if len(changes) == 1 and (common := changes.pop()):
            line += f" ({common})"
        notes.append(Text(line, style))
    return notes


def provider_notes(report: StatusReport) -> list[Text]:
    """What asks for attention because of providers and money: the paused TaskSpecs (one line
    per pause, grouped), every breaker that is not closed, and the build's spend."""
    notes: list[Text] = []
    paused: dict[str, list[str]] = {}
    for row in report.taskspecs:
        if row.paused is not None:
            paused.setdefault(row.paused.text, []).append(row.taskspec_id)
    for text, tids in paused.items():
        shown = ", ".join(tids[:5]) + (f" and {len(tids) - 5} more" if len(tids) > 5 else "")
        notes.append(Text(f"{len(tids)} {text} ({shown})", STATES["paused"][1]))
    for provider in report.providers:
        style = "bold red" if provider.state == "stopped" else "yellow"
        notes.append(Text(f"provider {provider.text}", style))
    if report.spend is not None:
        spend = report.spend
        over = spend.cap_usd is not None and spend.usd >= spend.cap_usd
        notes.append(Text(build_spend_text(spend), "bold red" if over else "dim"))
    return notes


def unlisted_note(report: StatusReport, every: bool | None) -> list[Text]:
    """The line saying which TaskSpecs and FeatSpecs the table left out, if it left any out."""
    if lists_every_taskspec(report, every):
        return []
    listed = listed_featspecs(report, every, _listed_rows(report, every))
    shown = {feat.featspec_id for feat in listed}
    tasks: Counter[str] = Counter(row.state for row in report.taskspecs)
    feats: Counter[str] = Counter(
        feat.status for feat in report.featspecs if feat.featspec_id not in shown
    )
    parts = [
        " and ".join(f"{counts[s]} {s}" for s in QUIET_STATES if counts[s]) + f" {kind}(s)"
        for counts, kind in ((tasks, "TaskSpec"), (feats, "FeatSpec"))
        if any(counts[s] for s in QUIET_STATES)
    ]
    if not parts:
        return []
    return [Text(f"{'; '.join(parts)} not listed (hatchdoit status --all lists them)", "dim")]


def render_status(report: StatusReport, every: bool | None = None) -> RenderableType:
    return Group(
        status_table(report, title=f"hatchdoit · {report.specs}", every=every),
        *unlisted_note(report, every),
        *state_notes(report),
        *provider_notes(report),
        summary_line(report),
    )
