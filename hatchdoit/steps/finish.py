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
from hatchdoit.run.attempts import (
    Approval,
    attempt_superseded,
    decision,
    first_attempt,
    receipt,
    standing,
)
from hatchdoit.run.budget_state import budget_reason, over_budget
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import branch_of, contains, git
from hatchdoit.steps.review_gate import hold_for_review

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
    """Why QA rejected `attempt`, in one line: its spent budget, the first reason of the first
    failed step before QA (a hung factory, no summary, failed tests), else QA's own first
    reason."""
    budget = over_budget(ctx, attempt + 1)
    if budget is not None:
        return budget_reason(budget)
    for step in CAUSE_STEPS:
        rec = receipt(ctx, step, attempt)
        if rec is not None and rec.outcome == "failed" and rec.reasons:
            return _first_line(rec.reasons[0])
    qa = receipt(ctx, "qa", attempt)
    return _first_line(qa.reasons[0]) if qa is not None and qa.reasons else "rejected by QA"


def escalation_on_record(ctx: StepContext) -> Escalated | None:
    """The escalation escalated.json records for the current inputs, if every attempt is still
    rejected; None when the finish step has work to do."""
    total = ctx.project.attempt_count(ctx.tid)
    record = try_load(ctx.layout.escalated(ctx.tid), EscalatedRecord)
    if record is None or record.digest != ctx.digest or record.attempts != total:
        return None
    if standing(ctx) is not None or _undecided(ctx, total):
        return None
    escalated = _escalated(ctx, total)
    escalated.on_record = True
    return escalated


def _undecided(ctx: StepContext, total: int) -> list[int]:
    return [
        k
        for k in range(first_attempt(ctx), total + 1)
        if decision(ctx, k) is None and not attempt_superseded(ctx, k)
    ]


def run_finish(ctx: StepContext, attempt: int = 0) -> None:
    on_record = escalation_on_record(ctx)
    if on_record is not None:
        raise on_record
    approval = standing(ctx)
    if approval is not None:
        hold_for_review(ctx, approval, "after-qa")
        _done(ctx, approval)
        return
    total = ctx.project.attempt_count(ctx.tid)
    undecided = _undecided(ctx, total)
    if undecided:
        raise StepError(
            f"attempt {undecided[0]} has no QA decision",
            taskspec_id=ctx.tid,
            operation="finish",
            fix="rerun doit",
        )
    reasons = []
    for k in range(first_attempt(ctx), total + 1):
        qa = receipt(ctx, "qa", k)
        reasons += [f"attempt {k}: {r}" for r in (qa.reasons if qa else [])]
    budget = over_budget(ctx, total + 1)
    if budget is not None:
        reasons.append(budget_reason(budget))
    record_esc = EscalatedRecord(
        taskspec_id=ctx.tid, digest=ctx.digest, attempts=total, reasons=reasons
    )
    write_json_atomic(ctx.layout.escalated(ctx.tid), record_esc.model_dump(mode="json"))
    escalated = _escalated(ctx, total)
    cause = "budget" if budget is not None else "attempts"
    ctx.audit("escalated", attempts=total, reasons=reasons, cause=cause)
    _post_escalation(ctx.project, ctx.tid, record_esc)
    ctx.log(
        "orchestrator",
        logging.CRITICAL,
        escalated.message,
        operation="finish",
        reasons=reasons,
    )
    raise escalated


def _done(ctx: StepContext, approval: Approval) -> None:
    """done.json for the approved work, naming its commit, while the branch still holds it (at
    its tip, for QA's approval; a person may approve a commit behind later ones)."""
    layout, k, commit = ctx.layout, approval.attempt, approval.commit
    if commit is None:
        raise StepError(
            f"attempt {k} is approved but records no commit",
            taskspec_id=ctx.tid,
            operation="finish",
            fix=f"rerun doit; if it says so again, remove {layout.rel(layout.state_dir(ctx.tid))}",
        )
    branch = branch_of(ctx.tid)
    repo = ctx.project.target_repo
    tip = git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False).strip()
    holds = tip == commit or (approval.by != "qa" and bool(tip) and contains(repo, tip, commit))
    if not holds:
        raise StepError(
            f"{branch} is at {tip[:12] or '(missing)'}, not at {commit[:12]}, the commit "
            f"approved in attempt {k}",
            taskspec_id=ctx.tid,
            operation="finish",
            fix=f"put {branch} back at {commit[:12]} (git branch -f {branch} {commit}), or "
            f"approve the commit you made there (hatchdoit approve {ctx.tid} --commit REF)",
        )
    verdict = layout.rel(layout.verdict(ctx.tid, k)) if approval.by == "qa" else approval.by
    record = DoneRecord(
        taskspec_id=ctx.tid,
        digest=ctx.digest,
        attempt=k,
        branch=branch,
        commit=commit,
        verdict=str(verdict),
    )
    fault_point("finish.before_record", ctx.tid)
    layout.escalated(ctx.tid).unlink(missing_ok=True)
    write_json_atomic(layout.done(ctx.tid), record.model_dump(mode="json"))
    ctx.project.refresh()  # its approved commit is an input of its dependents
    ctx.audit("done", attempt=k, commit=commit, approved_by=approval.by)
    ctx.log(
        "orchestrator", logging.INFO, f"done after {k} attempt(s)", attempt=k, operation="finish"
    )


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
    budget = over_budget(ctx, attempts + 1)
    if budget is not None:
        why = f"escalated after {budget.attempt} attempt(s): {budget_reason(budget)}"
        fix = (
            f"hatchdoit retry {ctx.tid} --budget-usd N grants N more, or raise "
            "budgets.taskspec_usd in hatchdoit.yaml"
        )
    else:
        why = f"escalated after {attempts} attempt(s): {root_cause(ctx, attempts)}"
        fix = (
            f"read {ctx.layout.rel(path)} and hatchdoit review {ctx.tid}; then hatchdoit retry "
            f"{ctx.tid} --attempts N, or hatchdoit approve {ctx.tid} --commit REF with a fix "
            "you committed on its branch"
        )
    return Escalated(why, taskspec_id=ctx.tid, operation="finish", path=path, fix=fix)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]
