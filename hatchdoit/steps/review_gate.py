"""The review gate: where QA-approved work waits for a person (`review: after-qa` before its
done.json, `before-integrate` before its delivery), until `hatchdoit approve` or `reject`.

Waiting is not a failure of the TaskSpec: the step ends as failed for doit (so nothing after it
runs), with one line that says what to do, and posts an `awaiting_review` notice once per inputs.
"""

from __future__ import annotations

from hatchdoit.config.models import ReviewGate
from hatchdoit.records.notices import post_notice
from hatchdoit.records.waiting import Waiting
from hatchdoit.run.attempts import Approval
from hatchdoit.run.context import StepContext


class AwaitingReview(Waiting):
    """QA approved; a person has not yet (records/waiting.py's `review`). Repeated as it is
    until they decide: nothing to log or audit again on every rerun."""

    kind = "review"


def gate_of(ctx: StepContext) -> ReviewGate:
    return ctx.spec.review or ctx.project.config.review


def hold_for_review(ctx: StepContext, approval: Approval, where: ReviewGate) -> None:
    """Raise AwaitingReview when the TaskSpec's gate is `where` and no person has approved the
    work standing approved."""
    if gate_of(ctx) != where or approval.reviewed:
        return
    config = ctx.project.config.notify
    if config.command and "awaiting_review" in config.events:
        post_notice(
            ctx.layout,
            "awaiting_review",
            f"awaiting_review-{ctx.tid}-{ctx.digest[:16]}",
            {
                "taskspec_id": ctx.tid,
                "title": ctx.spec.title,
                "attempt": approval.attempt,
                "commit": approval.commit,
                "review": f"hatchdoit review {ctx.tid}",
            },
        )
    raise AwaitingReview(
        f"awaiting review: attempt {approval.attempt} is approved by QA ({where} gate)",
        taskspec_id=ctx.tid,
        operation="review",
        fix=f"hatchdoit review {ctx.tid}, then hatchdoit approve {ctx.tid} or hatchdoit reject "
        f"{ctx.tid} --feedback TEXT",
    )
