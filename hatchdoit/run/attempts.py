"""Which attempts a TaskSpec needs, which work stands approved, and what one attempt tells the
next.

An attempt is approved by its QA step. Decisions (records/decisions.py) sit between attempts:
one taken after attempt k may reopen the TaskSpec (a person's `reject` or `retry`, or the
integration step sending the approved work back after a conflict: attempt k+1 then runs, with
the decision's feedback in its prompt), or approve it (a person's `approve`: of QA-approved work
waiting for review, or of an escalated TaskSpec, with the last attempt's commit or one the
person made). The latest word wins: the work standing approved is read by walking the attempts
and, after each, the decisions taken after it, in order. Attempts before the last reset are
void: a reset starts over with the next attempt number, on a new branch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hatchdoit.config.models import Backoff
from hatchdoit.records.models import DecisionRecord, Receipt, WorktreeRecord
from hatchdoit.records.receipts import current_receipt
from hatchdoit.records.schemas import load_valid
from hatchdoit.run.budget_state import over_budget
from hatchdoit.run.context import StepContext

REOPENING = ("reject", "retry", "integration")  # decisions that void the approval before them


@dataclass(frozen=True)
class Approval:
    """The work standing approved: its attempt, its commit, and who approved it ("qa", or the
    person who took an `approve` decision)."""

    attempt: int
    commit: str | None
    by: str
    reviewed: bool  # a person approved it (a review gate lets it through)


def receipt(ctx: StepContext, step: str, attempt: int) -> Receipt | None:
    return current_receipt(ctx.layout, ctx.tid, step, attempt, ctx.step_digest(step, attempt))


def decision(ctx: StepContext, attempt: int) -> str | None:
    """'approved' / 'rejected' once attempt's QA step is recorded, else None."""
    qa = receipt(ctx, "qa", attempt)
    return None if qa is None else str(qa.data.get("decision"))


def first_attempt(ctx: StepContext) -> int:
    """The first attempt that counts: 1, or the one after the last reset."""
    decisions = ctx.project.decisions(ctx.tid)  # from the last reset on
    return decisions[0].after_attempt + 1 if decisions and decisions[0].kind == "reset" else 1


def standing(ctx: StepContext, upto: int | None = None) -> Approval | None:
    """The work standing approved after attempt `upto` (all attempts when None) and the
    decisions taken after it."""
    last = ctx.project.attempt_count(ctx.tid) if upto is None else upto
    after: dict[int, list[DecisionRecord]] = {}
    for made in ctx.project.decisions(ctx.tid):
        if made.kind != "reset":
            after.setdefault(made.after_attempt, []).append(made)
    current: Approval | None = None
    for k in range(first_attempt(ctx), last + 1):
        verdict = decision(ctx, k)
        if verdict is not None:  # attempt k ran: its verdict replaces what stood before
            approved = verdict == "approved"
            current = Approval(k, attempt_commit(ctx, k), "qa", False) if approved else None
        for made in after.get(k, []):
            if made.kind in REOPENING:
                current = None
            elif made.kind == "approve":
                commit = made.commit or (current.commit if current else attempt_commit(ctx, k))
                current = Approval(k, commit, made.who, True)
    return current


def attempt_superseded(ctx: StepContext, attempt: int) -> bool:
    """True when attempt k will never run: it is before the last reset, work stands approved
    before it, or the TaskSpec's budget is spent. While an earlier attempt is undecided this is
    False: it may still be needed."""
    return (
        attempt < first_attempt(ctx)
        or standing(ctx, attempt - 1) is not None
        or (ctx.layout.budget(ctx.tid).exists() and over_budget(ctx, attempt) is not None)
    )


def approved_attempt(ctx: StepContext) -> int | None:
    """The attempt whose work stands approved (see standing)."""
    current = standing(ctx)
    return None if current is None else current.attempt


def attempt_commit(ctx: StepContext, attempt: int) -> str | None:
    """The commit attempt k's factory left (summary.py records it once the factory's session
    ended: what checks, QA, done.json and the integration all name)."""
    summary = receipt(ctx, "summary", attempt)
    commit = summary.data.get("commit") if summary is not None else None
    return str(commit) if commit else None


def base_commit(ctx: StepContext, attempt: int) -> str:
    """What attempt k's work is measured against: the worktree's base (its starting point with
    its dependencies merged in), or the integration branch's commit merged in to resolve an
    integration refusal before it (delivery/rework.py): the TaskSpec's own work is what lies
    past it."""
    for made in reversed(ctx.project.decisions(ctx.tid)):
        if made.kind == "integration" and made.after_attempt < attempt and made.commit:
            return made.commit
    return load_valid(ctx.layout.worktree_record(ctx.tid), WorktreeRecord).base_commit


def feedback_section(ctx: StepContext, attempt: int) -> str:
    """What the previous attempt left for this one: QA's feedback and failed checks, and the
    feedback of decisions taken after it (a person's, or the integration's). After `retry`, a
    new round: QA's feedback of every earlier attempt."""
    if attempt <= first_attempt(ctx):
        return ""
    after = [
        made
        for made in ctx.project.decisions(ctx.tid)
        if made.after_attempt == attempt - 1 and made.kind != "reset"
    ]
    retried = any(made.kind == "retry" for made in after)
    lines: list[str] = []
    for k in range(first_attempt(ctx) if retried else attempt - 1, attempt):
        qa = receipt(ctx, "qa", k)
        if qa is not None and qa.data.get("decision") != "approved":
            lines.append(f"\n## QA feedback from attempt {k}\n")
            feedback = str(qa.data.get("feedback") or "").strip()
            if feedback:
                lines.append(feedback + "\n")
            lines += [f"- {reason}" for reason in qa.reasons]
    for made in after:
        lines += _decision_lines(made)
    if not lines:
        return ""
    lines.append("\nAddress every point above in this attempt.\n")
    return "\n".join(lines)


def _decision_lines(made: DecisionRecord) -> list[str]:
    if made.kind == "integration":
        head = f"\n## Integration of attempt {made.after_attempt} failed\n"
    else:
        head = f"\n## Feedback from {made.who} ({made.kind}, after attempt {made.after_attempt})\n"
    lines = [head]
    if made.feedback.strip():
        lines.append(made.feedback.strip() + "\n")
    lines += [f"- {path}" for path in made.files]
    return lines


def backoff_delay(policy: Backoff, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter before attempt `attempt` (>= 2) after a fault."""
    base = min(policy.max, policy.base * policy.factor ** max(0, attempt - 2))
    spread = base * policy.jitter
    return max(0.0, base + (rng or random).uniform(-spread, spread))


def previous_was_fault(ctx: StepContext, attempt: int) -> bool:
    """True when the previous attempt's agent crashed, hung or timed out (not a QA rejection)."""
    if attempt <= 1:
        return False
    factory = receipt(ctx, "factory", attempt - 1)
    return factory is not None and factory.outcome == "failed"
