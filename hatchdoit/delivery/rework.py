"""When approved work cannot be integrated (a conflict, tests failing on the merged tree), it goes
back to its factory: the integration step records the refusal as a decision of kind `integration`
(its files and output are the next attempt's feedback, and it grants that attempt), and the
attempt runs at once, inside the integration step, on the same branch: its factory starts by
merging the integration branch's commit the merge was tried on, leaving any conflict for the agent
to resolve; then summary, checks and QA as for any attempt, and the finish step.

After a crash the same attempt is an ordinary one of the next `doit`: the decision granted it, so
the graph has its tasks, and its factory starts the merge if it was not started yet.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hatchdoit.core.proc import run
from hatchdoit.delivery.commits import trusted
from hatchdoit.delivery.merge_queue import Refused
from hatchdoit.records.decisions import write_decision
from hatchdoit.records.models import DecisionRecord, Receipt
from hatchdoit.run.attempts import attempt_superseded, decision, receipt
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import branch_of, contains, git, head_commit, identity, try_git

INTEGRATION_WHO = "hatchdoit (integration)"


@dataclass(frozen=True)
class Rework:
    """Delivery refused the approved work with feedback, recorded as a decision that grants
    `attempt` (an integration refusal: send_back; changes requested on its pull request: the
    reviewer's rejection). The integrate step runs that attempt now, in one place
    (steps/integrate.py), and delivers again. `said`: why, and who takes it up."""

    attempt: int
    said: str


def send_back(ctx: StepContext, refused: Refused, attempt: int) -> DecisionRecord:
    """Record that attempt `attempt`'s approved work was refused by the integration."""
    at = f"{refused.branch} (at {refused.tip[:12]})"
    if refused.why == "conflict":
        feedback = (
            f"Merging attempt {attempt}'s commit into {at} conflicts in the files listed below. "
            f"That commit of {refused.branch} is being merged into this worktree for you: resolve "
            "every conflict, keeping the work of both sides, make the tests pass, and commit the "
            "merge."
        )
    else:
        feedback = (
            f"Attempt {attempt}'s work merged into {at} fails the tests run on the merged tree. "
            f"That commit of {refused.branch} has been merged into this worktree: make the tests "
            "pass there and commit. The end of the failing output:\n\n" + refused.output
        )
    made = write_decision(
        ctx.layout,
        DecisionRecord(
            taskspec_id=ctx.tid,
            seq=1,
            kind="integration",
            after_attempt=attempt,
            grants=1,
            feedback=feedback,
            commit=refused.tip,
            files=refused.files,
            who=INTEGRATION_WHO,
        ),
    )
    ctx.project.refresh()
    ctx.audit("integration_refused", why=refused.why, attempt=attempt, files=refused.files)
    return made


def integration_merge(ctx: StepContext, attempt: int) -> DecisionRecord | None:
    """The integration decision attempt k answers, if the one before it was refused."""
    for made in reversed(ctx.project.decisions(ctx.tid)):
        if made.kind == "integration" and made.after_attempt == attempt - 1 and made.commit:
            return made
    return None


def start_merge(ctx: StepContext, attempt: int) -> list[str]:
    """At the start of an attempt that answers an integration refusal: merge the integration
    branch's commit into the worktree (once: not when it is merged or a merge is under way).
    Returns the files left in conflict for the agent."""
    made = integration_merge(ctx, attempt)
    if made is None or made.commit is None:
        return []
    worktree = ctx.worktree
    trusted(ctx)
    merging = run(
        ["git", "-C", str(worktree), "rev-parse", "-q", "--verify", "MERGE_HEAD"], check=False
    )
    if merging.returncode == 0 or contains(worktree, head_commit(worktree), made.commit):
        return git(worktree, "diff", "--name-only", "--diff-filter=U").split()
    author = ctx.project.config.target.commit_as
    message = f"Merge {made.commit[:12]} into {branch_of(ctx.tid)}, for its integration (hatchdoit)"
    who = identity(author.name, author.email)
    try_git(worktree, "merge", "--no-ff", "--no-edit", "-m", message, made.commit, env=who)
    conflicts = git(worktree, "diff", "--name-only", "--diff-filter=U").split()
    ctx.audit("integration_merge_started", attempt=attempt, commit=made.commit, files=conflicts)
    return conflicts


Step = Callable[[StepContext, int], Receipt | None]


def run_attempts(ctx: StepContext, first: int, steps: Sequence[tuple[str, Step]]) -> None:
    """Run attempts `first`.. through `steps` (factory, summary, checks, qa) until one is
    approved or none is left, each step skipped when its receipt is current (a rerun)."""
    for k in range(first, ctx.project.attempt_count(ctx.tid) + 1):
        if attempt_superseded(ctx, k):
            return
        for name, step in steps:
            if receipt(ctx, name, k) is not None:
                continue
            print(f"  {ctx.tid}: {name} of attempt {k} (for the integration)", file=sys.stderr)
            ctx.audit("step_start", step=name, attempt=k)
            step(ctx, k)
            ctx.audit("step_end", step=name, attempt=k)
        if decision(ctx, k) == "approved":
            return
