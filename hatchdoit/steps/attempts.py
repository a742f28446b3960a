"""Which attempts a TaskSpec needs, which one is approved, and what one attempt tells the next.

An attempt is approved by its QA step. A decision taken after it (records/decisions.py) may
reopen the TaskSpec: a person's rejection, or the integration step sending the approved work back
after a conflict. The next attempt then runs, with the decision's feedback in its prompt.
"""

from __future__ import annotations

import random

from hatchdoit.config.models import Backoff
from hatchdoit.records.models import DecisionRecord, Receipt, WorktreeRecord
from hatchdoit.records.receipts import current_receipt
from hatchdoit.records.schemas import load_valid
from hatchdoit.steps.context import StepContext

REOPENING = ("reject", "integration")  # decisions that void the approval of attempts before them


def receipt(ctx: StepContext, step: str, attempt: int) -> Receipt | None:
    return current_receipt(ctx.layout, ctx.tid, step, attempt, ctx.step_digest(step, attempt))


def decision(ctx: StepContext, attempt: int) -> str | None:
    """'approved' / 'rejected' once attempt's QA step is recorded, else None."""
    qa = receipt(ctx, "qa", attempt)
    return None if qa is None else str(qa.data.get("decision"))


def _reopened(ctx: StepContext) -> list[int]:
    """The attempts after which a decision reopened the TaskSpec."""
    return [d.after_attempt for d in ctx.project.decisions(ctx.tid) if d.kind in REOPENING]


def attempt_superseded(ctx: StepContext, attempt: int) -> bool:
    """True when an earlier attempt was approved and nothing reopened it before `attempt`, so
    attempt k will never run. While an earlier attempt is undecided this is False: the attempt
    may still be needed."""
    reopened = _reopened(ctx)
    return any(
        decision(ctx, k) == "approved" and not any(k <= r < attempt for r in reopened)
        for k in range(1, attempt)
    )


def approved_attempt(ctx: StepContext) -> int | None:
    """The attempt whose work stands approved: approved by QA, and not reopened since."""
    reopened = _reopened(ctx)
    for k in range(ctx.project.attempt_count(ctx.tid), 0, -1):
        if decision(ctx, k) == "approved" and not any(r >= k for r in reopened):
            return k
    return None


def attempt_commit(ctx: StepContext, attempt: int) -> str | None:
    """The commit attempt k's factory left (summary.py records it once the factory's session
    ended: what checks, QA, done.json and the integration all name)."""
    summary = receipt(ctx, "summary", attempt)
    commit = summary.data.get("commit") if summary is not None else None
    return str(commit) if commit else None


def base_commit(ctx: StepContext, attempt: int) -> str:
    """What attempt k's work is measured against: the worktree's base (its starting point with
    its dependencies merged in), or the integration branch's commit merged in to resolve an
    integration refusal before it (rework.py): the TaskSpec's own work is what lies past it."""
    for made in reversed(ctx.project.decisions(ctx.tid)):
        if made.kind == "integration" and made.after_attempt < attempt and made.commit:
            return made.commit
    return load_valid(ctx.layout.worktree_record(ctx.tid), WorktreeRecord).base_commit


def feedback_section(ctx: StepContext, attempt: int) -> str:
    """What the previous attempt left for this one: QA's feedback and failed checks, and the
    feedback of decisions taken after it (a person's, or the integration's)."""
    if attempt <= 1:
        return ""
    lines: list[str] = []
    qa = receipt(ctx, "qa", attempt - 1)
    if qa is not None and qa.data.get("decision") != "approved":
        lines.append(f"\n## QA feedback from attempt {attempt - 1}\n")
        feedback = str(qa.data.get("feedback") or "").strip()
        if feedback:
            lines.append(feedback + "\n")
        lines += [f"- {reason}" for reason in qa.reasons]
    for later in ctx.project.decisions(ctx.tid):
        if later.after_attempt == attempt - 1 and later.kind != "reset":
            lines += _decision_lines(later)
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
