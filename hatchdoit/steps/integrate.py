"""Step `integrate` (after `taskspec`): the approved commit delivered, with a receipt.

`integrate: merge | squash | rebase` lands it on the integration branch (delivery/merge_queue.py); a
conflict or failing tests on the merged tree send it back to its factory (delivery/rework.py), at
most `integration.max_attempts` times, then the TaskSpec escalates with cause `integration`.
`integrate: pr` pushes the branch and opens or updates its pull request (delivery/pull_request.py).
Delivery that refuses the work with feedback (a refused merge, changes requested on the pull
request) returns a Rework, and `_rework` alone starts the attempt that answers it, inside this
step, then delivers again: one `doit` reworks a refused integration and lands it.

The receipt is `_logs/state/<ID>/integrate.json`: current while it names the chain's inputs, the
delivery mode and the approved commit. An escalation is recorded there too, once per inputs: a
rerun fails again with the same line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.landed import current_integration
from hatchdoit.delivery.merge_queue import Landed, Mode, Refused
from hatchdoit.delivery.pull_request import (
    PullRequest,
    open_or_update,
    review_of,
    unmerged_dependencies,
)
from hatchdoit.delivery.rework import INTEGRATION_WHO, Rework, Step, run_attempts, send_back
from hatchdoit.records.decisions import write_decision
from hatchdoit.records.models import DecisionKind, DecisionRecord
from hatchdoit.records.waiting import (
    KINDS,
    AwaitingMerge,
    WaitingRecord,
    clear_waiting,
    record_waiting,
)
from hatchdoit.run.attempts import Approval, standing
from hatchdoit.run.context import StepContext
from hatchdoit.steps import checks, factory, qa, summary
from hatchdoit.steps.finish import run_finish
from hatchdoit.steps.landing_record import integration_record, record_landed
from hatchdoit.steps.merge_batch import Queued, finish_handed_over, integrate_batched
from hatchdoit.steps.review_gate import gate_of, hold_for_review

ATTEMPT_STEPS: Sequence[tuple[str, Step]] = [
    ("factory", factory.run_factory),
    ("summary", summary.run_summary),
    ("checks", checks.run_checks),
    ("qa", qa.run_qa),
]


class IntegrationEscalated(StepError):
    """The approved work could not be integrated within integration.max_attempts."""

    on_record = False

    def one_line(self) -> str:
        return self.message + (f" (fix: {self.fix})" if self.fix else "")


def escalation_on_record(ctx: StepContext) -> IntegrationEscalated | None:
    record = current_integration(ctx.project, ctx.tid)
    if record is None or record.outcome != "escalated":
        return None
    escalated = _escalated(ctx, record.reasons)
    escalated.on_record = True
    return escalated


def run_integrate(ctx: StepContext, attempt: int = 0) -> None:
    on_record = escalation_on_record(ctx)
    if on_record is not None:
        raise on_record
    mode = ctx.project.config.integrate
    if mode == "none":
        return
    tries = 0
    while True:
        tries += 1
        approval = standing(ctx)
        approved = ctx.project.approved_commit(ctx.tid)
        if approval is None or approved is None:
            raise StepError(
                "not done: nothing approved to integrate",
                taskspec_id=ctx.tid,
                operation="integrate",
                fix="rerun doit",
            )
        if mode == "pr":
            rework = _pull_request(ctx, approved, approval)
        else:
            hold_for_review(ctx, approval, "before-integrate")
            rework = _merge(ctx, approved, mode, approval.attempt, tries)
        if rework is None:
            return
        _rework(ctx, rework)


def _rework(ctx: StepContext, rework: Rework) -> None:
    """The one place the integrate step starts attempts: delivery refused the work with
    feedback (a refused merge, or changes requested on the pull request), so the attempt that
    answers it runs now (factory, summary, checks, QA), then the finish step; the caller's loop
    then delivers the new approved commit."""
    print(f"  {ctx.tid}: {rework.said}", file=sys.stderr)
    run_attempts(ctx, rework.attempt, ATTEMPT_STEPS)
    run_finish(ctx)  # done.json for the new approved commit, or Escalated


def _merge(ctx: StepContext, approved: str, mode: Mode, attempt: int, tries: int) -> Rework | None:
    """Land the approved commit (delivery/merge_queue.py); the rework due when it is refused.
    Handed over to the batch landing now (Queued): nothing more to do here, its lander lands it
    and writes the receipt (steps/merge_batch.py)."""
    result = integrate_batched(ctx, approved, mode, _settle_member)
    if isinstance(result, Queued):
        print(f"  {ctx.tid}: {result.said}", file=sys.stderr)
        return None
    if isinstance(result, Landed):
        _landed(ctx, result, approved, tries)
        finish_handed_over(ctx, mode, _settle_member)  # its own receipt first
        return None
    finish_handed_over(ctx, mode, _settle_member)  # before the rework's agent run
    return _refused(ctx, result, approved, attempt, tries)


def _landed(ctx: StepContext, landed: Landed, approved: str, tries: int) -> None:
    record_landed(ctx, landed, approved, tries)


def _settle_member(member: StepContext, refused: Refused, approved: str) -> None:
    """A member that handed its landing over and that the batch refused, settled by its lander
    as its own step would: escalated when its integration budget is spent, else sent back (the
    decision makes the next `doit` run the attempt that answers it)."""
    approval = standing(member)
    try:
        rework = _refused(member, refused, approved, approval.attempt if approval else 1, 1)
    except StepError as stopped:
        print(f"  {member.tid}: {stopped}", file=sys.stderr)
        return
    print(f"  {member.tid}: refused in the batch: {rework.said} (on the next run)", file=sys.stderr)


def _refused(ctx: StepContext, refused: Refused, approved: str, attempt: int, tries: int) -> Rework:
    """Send the work back to its factory (delivery/rework.py), or escalate when the budget is
    spent."""
    what = (
        f"conflict in {', '.join(refused.files)}"
        if refused.why == "conflict"
        else f"tests failed on the merged tree ({refused.tests[-1].log})"
    )
    ctx.log(
        "orchestrator",
        logging.WARNING,
        f"cannot integrate into {refused.branch}: {what}",
        operation="integrate",
        tip=refused.tip,
    )
    spent = sum(
        1
        for made in ctx.project.decisions(ctx.tid)
        if made.kind == "integration" and made.who == INTEGRATION_WHO
    )
    if spent >= ctx.project.config.integration.max_attempts:
        reasons = [f"integration into {refused.branch}: {what}"]
        record = integration_record(
            ctx, approved, "escalated", refused.branch, refused.tests, tries
        )
        record.reasons = reasons
        write_json_atomic(ctx.layout.integration(ctx.tid), record.model_dump(mode="json"))
        ctx.layout.integration_intent(ctx.tid).unlink(missing_ok=True)
        ctx.audit("escalated", cause="integration", reasons=reasons)
        escalated = _escalated(ctx, reasons)
        ctx.log("orchestrator", logging.CRITICAL, escalated.message, operation="integrate")
        raise escalated
    send_back(ctx, refused, attempt)
    return Rework(attempt + 1, f"{what}: attempt {attempt + 1} takes it up")


def _pull_request(ctx: StepContext, approved: str, approval: Approval) -> Rework | None:
    """Open or update the PR; with a review gate, it waits for a person there (review_from: pr:
    the PR's own review decides) or for `hatchdoit approve` before the PR is opened. The rework
    due when changes were requested on the PR (the PR is to be updated after it)."""
    attempt = approval.attempt
    from_pr = ctx.project.config.review_from == "pr"
    if not from_pr:
        hold_for_review(ctx, approval, "before-integrate")
    waiting = unmerged_dependencies(ctx)
    if waiting:
        raise _waits_for_merge(ctx, waiting)
    clear_waiting(ctx.layout, ctx.tid)
    opened = open_or_update(ctx, approved, attempt)
    if from_pr and gate_of(ctx) != "none" and not approval.reviewed:
        rework = _reviewed_on_github(ctx, opened, approved, approval)
        if rework is not None:
            return rework
        approved = ctx.project.approved_commit(ctx.tid) or approved
    record = integration_record(ctx, approved, "integrated", opened.base, [], 1)
    record.pr_url, record.pr_number = opened.url, opened.number
    fault_point("integrate.before_receipt", ctx.tid)
    write_json_atomic(ctx.layout.integration(ctx.tid), record.model_dump(mode="json"))
    ctx.audit("pull_request", url=opened.url, number=opened.number, base=opened.base)
    ctx.log("orchestrator", logging.INFO, f"pull request {opened.url}", operation="integrate")
    return None


def _waits_for_merge(ctx: StepContext, dependencies: list[str]) -> AwaitingMerge:
    """integration.dependents: wait, and a dependency's pull request is open: the TaskSpec waits
    on a person merging it (records/waiting.py), recorded so that status and ci can say so."""
    record = WaitingRecord(
        taskspec_id=ctx.tid,
        kind="merge",
        on=dependencies,
        step="integrate",
        digest=ctx.step_digest("integrate", 0),
    )
    waits = KINDS["merge"].says(dependencies)
    if record_waiting(ctx.layout, record):  # said once per wait, not on every rerun
        ctx.audit("waiting", kind="merge", on=dependencies)
        ctx.log("orchestrator", logging.INFO, waits, operation="pull_request")
    return AwaitingMerge(
        waits,
        taskspec_id=ctx.tid,
        operation="pull_request",
        fix="merge it, then run doit again (integration.dependents: stack opens it now, stacked)",
    )


def _reviewed_on_github(
    ctx: StepContext, opened: PullRequest, approved: str, approval: Approval
) -> Rework | None:
    """review_from: pr. An approving review of the pushed commit is the person's approval
    (recorded as their decision); changes requested are their rejection, answered by a new
    attempt at once (the Rework due); no review yet: the TaskSpec waits (AwaitingReview)."""
    review = review_of(ctx, opened, approved)
    if review is None:
        hold_for_review(ctx, approval, gate_of(ctx))  # raises: a person has not decided
        return None
    kind: DecisionKind = "approve" if review.state == "APPROVED" else "reject"
    write_decision(
        ctx.layout,
        DecisionRecord(
            taskspec_id=ctx.tid,
            seq=1,
            kind=kind,
            after_attempt=approval.attempt,
            grants=0 if kind == "approve" else 1,
            feedback=review.feedback,
            commit=approved if kind == "approve" else None,
            who=review.who,
        ),
    )
    ctx.project.refresh()
    ctx.audit("decision", kind=kind, who=review.who, source="pr", number=opened.number)
    if kind == "approve":
        run_finish(ctx)  # done.json for the inputs the approval changed
        return None
    said = f"changes requested on PR #{opened.number}: attempt {approval.attempt + 1} takes them up"
    return Rework(approval.attempt + 1, said)


def _escalated(ctx: StepContext, reasons: list[str]) -> IntegrationEscalated:
    path = ctx.layout.integration(ctx.tid)
    first = reasons[0] if reasons else "integration failed"
    return IntegrationEscalated(
        f"escalated: cannot integrate after {ctx.project.config.integration.max_attempts} "
        f"attempt(s) to resolve it: {first}",
        taskspec_id=ctx.tid,
        operation="integrate",
        path=path,
        fix=f"read {ctx.layout.rel(path)}; merge taskspec/{ctx.tid} by hand, or send it back "
        "with feedback (hatchdoit reject)",
    )
