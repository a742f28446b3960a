"""Which attempts a TaskSpec needs, and what one attempt tells the next."""

from __future__ import annotations

import random

from hatchdoit.config.models import Backoff
from hatchdoit.records.models import Receipt
from hatchdoit.records.receipts import current_receipt
from hatchdoit.steps.context import StepContext


def receipt(ctx: StepContext, step: str, attempt: int) -> Receipt | None:
    return current_receipt(ctx.layout, ctx.tid, step, attempt, ctx.digest)


def decision(ctx: StepContext, attempt: int) -> str | None:
    """'approved' / 'rejected' once attempt's QA step is recorded, else None."""
    qa = receipt(ctx, "qa", attempt)
    return None if qa is None else str(qa.data.get("decision"))


def attempt_superseded(ctx: StepContext, attempt: int) -> bool:
    """True when an earlier attempt was approved, so attempt k will never run. While an earlier
    attempt is undecided this is False: the attempt may still be needed."""
    return any(decision(ctx, k) == "approved" for k in range(1, attempt))


def feedback_section(ctx: StepContext, attempt: int) -> str:
    """QA's feedback and failed checks of the previous attempt, for the retry's prompt."""
    if attempt <= 1:
        return ""
    qa = receipt(ctx, "qa", attempt - 1)
    if qa is None:
        return ""
    lines = [f"\n## QA feedback from attempt {attempt - 1}\n"]
    feedback = str(qa.data.get("feedback") or "").strip()
    if feedback:
        lines.append(feedback + "\n")
    for reason in qa.reasons:
        lines.append(f"- {reason}")
    lines.append("\nAddress every point above in this attempt.\n")
    return "\n".join(lines)


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
