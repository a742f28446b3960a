"""Step `taskspec` (finish): done.json for an approved attempt, escalated.json after the last."""

from __future__ import annotations

import logging

from hatchdoit.atomicio import write_json_atomic
from hatchdoit.errors import StepError
from hatchdoit.faults import fault_point
from hatchdoit.gitops import head_commit
from hatchdoit.notify import notify_escalated
from hatchdoit.records import DoneRecord, EscalatedRecord
from hatchdoit.steps.attempts import decision, receipt
from hatchdoit.steps.context import StepContext
from hatchdoit.steps.worktree import branch_of


class Escalated(StepError):
    """Every attempt was rejected: a human has to look."""


def run_finish(ctx: StepContext, attempt: int = 0) -> None:
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
    ctx.audit("escalated", attempts=max_attempts, reasons=reasons)
    notify_escalated(ctx.project, ctx.tid)
    ctx.log(
        "orchestrator",
        logging.CRITICAL,
        f"escalated after {max_attempts} attempt(s)",
        operation="finish",
        reasons=reasons,
    )
    raise Escalated(
        f"escalated after {max_attempts} rejected attempt(s): {reasons[-1] if reasons else ''}",
        taskspec_id=ctx.tid,
        path=layout.escalated(ctx.tid),
        fix="read the QA verdicts and checks, edit the TaskSpec, rerun",
    )
