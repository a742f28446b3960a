"""Step `taskspec` (finish): done.json for an approved attempt, escalated.json after the last.

An escalation is recorded once per input digest: a rerun whose escalated.json is still current
fails again with the same one line, and logs, audits and notifies nothing new. The notification is
a notice posted for the observer side to send (records/notices.py, observe/notify.py)."""

from __future__ import annotations

import logging

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.project import Project
from hatchdoit.records.models import DoneRecord, EscalatedRecord
from hatchdoit.records.notices import post_notice
from hatchdoit.records.schemas import try_load
from hatchdoit.steps.attempts import decision, receipt
from hatchdoit.steps.context import StepContext
from hatchdoit.steps.gitops import head_commit
from hatchdoit.steps.worktree import branch_of

# The steps before QA, in chain order: the first that failed is why QA rejected.
CAUSE_STEPS = ("factory", "summary", "checks")


class Escalated(StepError):
    """Every attempt was rejected: a human has to look. `on_record` when escalated.json already
    said so for these inputs (a rerun): the failure is repeated, not recorded again."""

    on_record = False

    def one_line(self) -> str:
        # The record's path is in the fix; the root cause comes first.
        return self.message + (f" (fix: {self.fix})" if self.fix else "")


def root_cause(ctx: StepContext, attempt: int) -> str:
    """Why QA rejected `attempt`, in one line: the first reason of the first failed step before
    QA (a hung factory, no summary, failed tests), else QA's own first reason."""
    for step in CAUSE_STEPS:
        rec = receipt(ctx, step, attempt)
        if rec is not None and rec.outcome == "failed" and rec.reasons:
            return _first_line(rec.reasons[0])
    qa = receipt(ctx, "qa", attempt)
    return _first_line(qa.reasons[0]) if qa is not None and qa.reasons else "rejected by QA"


def escalation_on_record(ctx: StepContext) -> Escalated | None:
    """The escalation escalated.json records for the current inputs, if every attempt is still
    rejected; None when the finish step has work to do."""
    max_attempts = ctx.project.max_attempts(ctx.tid)
    record = try_load(ctx.layout.escalated(ctx.tid), EscalatedRecord)
    if record is None or record.digest != ctx.digest or record.attempts != max_attempts:
        return None
    if any(decision(ctx, k) != "rejected" for k in range(1, max_attempts + 1)):
        return None
    escalated = _escalated(ctx, max_attempts)
    escalated.on_record = True
    return escalated


def run_finish(ctx: StepContext, attempt: int = 0) -> None:
    on_record = escalation_on_record(ctx)
    if on_record is not None:
        raise on_record
    layout = ctx.layout
    max_attempts = ctx.project.max_attempts(ctx.tid)
    for k in range(1, max_attempts + 1):
        verdict = decision(ctx, k)
        if verdict == "approved":
            record = DoneRecord(
                taskspec_id=ctx.tid,
                digest=ctx.digest,
                attempt=k,
                branch=branch_of(ctx.tid),
                commit=head_commit(ctx.worktree),
                verdict=str(layout.rel(layout.verdict(ctx.tid, k))),
            )
            fault_point("finish.before_record", ctx.tid)
            layout.escalated(ctx.tid).unlink(missing_ok=True)
            write_json_atomic(layout.done(ctx.tid), record.model_dump(mode="json"))
            ctx.audit("done", attempt=k, commit=record.commit)
            ctx.log(
                "orchestrator",
                logging.INFO,
                f"done after {k} attempt(s)",
                attempt=k,
                operation="finish",
            )
            return
        if verdict != "rejected":
            raise StepError(
                f"attempt {k} has no QA decision",
                taskspec_id=ctx.tid,
                operation="finish",
                fix="rerun doit",
            )
    reasons = []
    for k in range(1, max_attempts + 1):
        qa = receipt(ctx, "qa", k)
        reasons += [f"attempt {k}: {r}" for r in (qa.reasons if qa else [])]
    record_esc = EscalatedRecord(
        taskspec_id=ctx.tid, digest=ctx.digest, attempts=max_attempts, reasons=reasons
    )
    write_json_atomic(layout.escalated(ctx.tid), record_esc.model_dump(mode="json"))
    escalated = _escalated(ctx, max_attempts)
    ctx.audit("escalated", attempts=max_attempts, reasons=reasons)
    _post_escalation(ctx.project, ctx.tid, record_esc)
    ctx.log(
        "orchestrator",
        logging.CRITICAL,
        escalated.message,
        operation="finish",
        reasons=reasons,
    )
    raise escalated


def _post_escalation(project: Project, tid: str, record: EscalatedRecord) -> bool:
    """Post the notice that `tid` escalated (once per input digest), when notifications of
    escalations are configured; call after escalated.json is written."""
    config = project.config.notify
    if not config.command or "escalated" not in config.events:
        return False
    spec = project.taskspec(tid)
    return post_notice(
        project.layout,
        "escalated",
        f"escalated-{tid}-{record.digest[:16]}",
        {
            "taskspec_id": tid,
            "title": spec.title,
            "featspec": spec.featspec,
            "attempts": record.attempts,
            "reasons": record.reasons,
            "escalated_file": project.layout.rel(project.layout.escalated(tid)),
        },
    )


def _escalated(ctx: StepContext, attempts: int) -> Escalated:
    path = ctx.layout.escalated(ctx.tid)
    return Escalated(
        f"escalated after {attempts} attempt(s): {root_cause(ctx, attempts)}",
        taskspec_id=ctx.tid,
        operation="finish",
        path=path,
        fix=f"read {ctx.layout.rel(path)} and each attempt's checks and QA verdict, "
        "edit the TaskSpec, rerun doit",
    )


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]
