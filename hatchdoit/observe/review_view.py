"""What a person looks at before deciding about a TaskSpec (`hatchdoit review <ID>`): where it
stands, the diff of an attempt's commit against its base, the factory's summary, the checks, QA's
verdict with its reasons and feedback, the decisions taken so far, and the commands that decide.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from hatchdoit.core.errors import ConfigError
from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.project import Project
from hatchdoit.records.models import ChecksRecord, SummaryRecord, VerdictRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.records.waiting import waiting_state
from hatchdoit.run.attempts import attempt_commit, base_commit, standing
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import branch_of, git

PATCH_LIMIT = 256 * 1024  # characters of the patch kept in a report


class ReviewReport(BaseModel):
    """The `--json` document of `hatchdoit review`."""

    model_config = ConfigDict(extra="forbid")

    taskspec_id: str
    title: str
    state: str
    attempt: int
    branch: str
    commit: str
    base: str
    stat: str
    patch: str
    summary: dict[str, Any] | None
    checks: dict[str, Any] | None
    verdict: dict[str, Any] | None
    decisions: list[dict[str, Any]]
    commands: list[str]


def _attempt(ctx: StepContext, asked: int | None) -> int:
    """The attempt to show: the one asked for, else the approved one, else the latest with a
    commit."""
    if asked is not None:
        if attempt_commit(ctx, asked) is None:
            raise ConfigError(
                f"attempt {asked} of {ctx.tid} has no commit to show",
                field="--attempt",
                fix=f"hatchdoit review {ctx.tid} shows the latest",
            )
        return asked
    approval = standing(ctx)
    if approval is not None:
        return approval.attempt
    for k in range(ctx.project.attempt_count(ctx.tid), 0, -1):
        if attempt_commit(ctx, k) is not None:
            return k
    raise ConfigError(
        f"{ctx.tid} has no attempt with a commit yet: nothing to review",
        fix="run doit; hatchdoit status shows where it stands",
    )


def state_of(project: Project, tid: str) -> str:
    """Where the TaskSpec stands, in a few words (and where its work was delivered)."""
    progress = taskspec_progress(project, tid)
    waiting = waiting_state(progress)  # records/waiting.py
    if waiting is not None:
        return waiting
    delivered = progress.get("integration")
    if isinstance(delivered, dict):
        where = (
            delivered.get("pr")
            or f"{delivered.get('branch')} at {str(delivered.get('commit'))[:12]}"
        )
        return f"{progress['status']} (delivered: {where})"
    return str(progress["status"])


def commands(tid: str, state: str) -> list[str]:
    """The decisions that fit where the TaskSpec stands."""
    state = state.split(" (", 1)[0]
    if state == "awaiting review":
        found = [f"hatchdoit approve {tid}", f"hatchdoit reject {tid} --feedback TEXT"]
    elif state == "escalated":
        found = [
            f"hatchdoit approve {tid} [--commit REF]",
            f"hatchdoit retry {tid} --attempts N",
            f"hatchdoit reject {tid} --feedback TEXT",
        ]
    elif state == "done":
        found = [f"hatchdoit reject {tid} --feedback TEXT"]
    else:
        found = []
    return [*found, f"hatchdoit diff {tid}", f"hatchdoit reset {tid}"]


def collect_review(project: Project, tid: str, asked: int | None = None) -> ReviewReport:
    ctx = StepContext(project, tid)
    attempt = _attempt(ctx, asked)
    commit = attempt_commit(ctx, attempt) or ""
    base = base_commit(ctx, attempt)
    repo = project.target_repo
    layout = project.layout
    summary = try_load(layout.summary(tid, attempt), SummaryRecord)
    checks = try_load(layout.checks(tid, attempt), ChecksRecord)
    verdict = try_load(layout.verdict(tid, attempt), VerdictRecord)
    state = state_of(project, tid)
    return ReviewReport(
        taskspec_id=tid,
        title=ctx.spec.title,
        state=state,
        attempt=attempt,
        branch=branch_of(tid),
        commit=commit,
        base=base,
        stat=git(repo, "diff", "--stat", base, commit),
        patch=git(repo, "diff", base, commit),
        summary=None if summary is None else summary.model_dump(mode="json"),
        checks=None if checks is None else checks.model_dump(mode="json"),
        verdict=None if verdict is None else verdict.model_dump(mode="json"),
        decisions=[d.model_dump(mode="json") for d in project.decisions(tid)],
        commands=commands(tid, state),
    )


def render_review(report: ReviewReport, patch: bool = True) -> str:
    """The review as text: the head, the stat, what the agents said, the commands, the patch."""
    r = report
    lines = [
        f"TaskSpec {r.taskspec_id}: {r.title}",
        f"state: {r.state}; attempt {r.attempt}: {r.branch} at {r.commit[:12]} "
        f"(base {r.base[:12]})",
        "",
        r.stat.rstrip() or "(no changes)",
        "",
    ]
    if r.summary is not None:
        lines.append(f"summary: {r.summary.get('handover_notes') or '(no notes)'}")
    if r.checks is not None:
        tests, loc = r.checks.get("tests"), r.checks.get("loc")
        said = "passed" if r.checks.get("passed") else "failed: " + "; ".join(r.checks["failures"])
        lines.append(f"checks: {said}")
        if tests:
            counts = f", {tests['passed']} passed" if tests.get("passed") is not None else ""
            lines.append(f"  tests: exit {tests['exit_code']}{counts} in {tests['duration_s']}s")
        if loc:
            lines.append(f"  LOC: {loc['added']} added (cap {loc['cap']})")
    if r.verdict is not None:
        lines.append(f"QA: {r.verdict['verdict']}")
        lines += [f"  - {reason}" for reason in r.verdict.get("reasons") or []]
        if r.verdict.get("feedback"):
            lines.append(f"  feedback: {r.verdict['feedback']}")
    for made in r.decisions:
        text = str(made.get("feedback") or "").strip().splitlines()
        first = f": {text[0]}" if text else ""
        lines.append(
            f"decision {made['seq']}: {made['kind']} by {made['who']} at {made['at']} "
            f"(after attempt {made['after_attempt']}){first}"
        )
    lines += ["", "to decide:", *(f"  {c}" for c in r.commands)]
    if patch:
        lines += ["", r.patch.rstrip()]
    return "\n".join(lines) + "\n"
