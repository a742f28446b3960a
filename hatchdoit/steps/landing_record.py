"""The integrate step's receipt for work that landed (`_logs/state/<ID>/integrate.json`), written
by the TaskSpec's own integrate step, or by the merge queue's lander for a member whose step
handed its landing over (steps/merge_batch.py)."""

from __future__ import annotations

import logging

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.bisect import BatchLanded
from hatchdoit.delivery.checkout import tell_checkout
from hatchdoit.delivery.merge_queue import Landed
from hatchdoit.delivery.retire import retire_delivered
from hatchdoit.records.models import IntegrationRecord, TestRun
from hatchdoit.run.context import StepContext


def integration_record(
    ctx: StepContext,
    approved: str,
    outcome: str,
    branch: str,
    tests: list[TestRun],
    tries: int,
) -> IntegrationRecord:
    return IntegrationRecord.model_validate(
        {
            "taskspec_id": ctx.tid,
            "digest": ctx.step_digest("integrate", 0),
            "mode": ctx.project.config.integrate,
            "outcome": outcome,
            "approved_commit": approved,
            "branch": branch,
            "tests": [t.model_dump(mode="json") for t in tests],
            "tries": tries,
        }
    )


def record_landed(ctx: StepContext, landed: Landed, approved: str, tries: int) -> None:
    """integrate.json for a landing, then the audit event, the log line, the checkouts told
    (unless the landing told them: a batch's lander, a landing on the remote) and the delivered
    worktree retired."""
    record = integration_record(ctx, approved, "integrated", landed.branch, landed.tests, tries)
    record.landed_commit, record.previous_tip = landed.commit, landed.previous
    fault_point("integrate.before_receipt", ctx.tid)
    write_json_atomic(ctx.layout.integration(ctx.tid), record.model_dump(mode="json"))
    ctx.layout.integration_intent(ctx.tid).unlink(missing_ok=True)
    ctx.audit("integrated", commit=landed.commit, branch=landed.branch, approved=approved)
    ctx.log(
        "orchestrator",
        logging.INFO,
        f"integrated into {landed.branch} as {landed.commit[:12]}",
        operation="integrate",
        commit=landed.commit,
        moved=landed.moved,
    )
    if not (isinstance(landed, BatchLanded) or landed.told):
        tell_checkout(ctx, landed)
    retire_delivered(ctx)  # workspace.remove_delivered: its worktree goes, its branch stays
