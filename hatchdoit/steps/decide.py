"""A person's decisions about a TaskSpec: approve, reject, retry, reset (`hatchdoit approve ...`).

Each is checked against where the TaskSpec stands, one clear line when it makes no sense (exit 2),
then written as a decision record (records/decisions.py) and audited; nothing is written to the
planning repo. The TaskSpec's lock is held while it is written, so a decision never lands in the
middle of a step: while a step of the TaskSpec runs it is refused (exit 1), and a running build
picks it up at its next step boundary (or the next `doit` does). Decisions are inputs of the
chain (project.py): `doit` then reruns exactly what they change, and dependents follow.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from hatchdoit.core.errors import ConfigError
from hatchdoit.core.locks import exclusive
from hatchdoit.delivery.commits import bring_in
from hatchdoit.records.decisions import write_decision
from hatchdoit.records.models import DecisionKind, DecisionRecord
from hatchdoit.run.attempts import attempt_commit, decision, first_attempt, receipt, standing
from hatchdoit.run.budget_state import budget_reason, over_budget
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import branch_of, contains, try_git
from hatchdoit.steps.review_gate import gate_of


class DecisionRefused(ConfigError):
    """The decision makes no sense for where the TaskSpec stands (exit 2)."""


@dataclass(frozen=True)
class Where:
    """Where a TaskSpec stands, as far as a decision is concerned."""

    state: str  # not started | building | awaiting review | done | escalated
    last: int  # the highest attempt that started (a decision is taken after it)
    detail: str


def who_decides(ctx: StepContext) -> str:
    """`Name <email>` of the person, as git would sign their commit where the project is (its
    config, GIT_AUTHOR_*), else $USER."""
    ident = try_git(ctx.layout.root, "var", "GIT_AUTHOR_IDENT")
    if ident.returncode == 0 and "<" in ident.stdout:
        return ident.stdout.rsplit(">", 1)[0].strip() + ">"
    return os.environ.get("USER") or getpass.getuser()


def last_started(ctx: StepContext) -> int:
    for k in range(ctx.project.attempt_count(ctx.tid), first_attempt(ctx) - 1, -1):
        if receipt(ctx, "factory", k) is not None:
            return k
    return first_attempt(ctx) - 1


def where(ctx: StepContext) -> Where:
    last = last_started(ctx)
    if receipt(ctx, "worktree", 0) is None or last < first_attempt(ctx):
        return Where("not started", last, "no attempt has run")
    approval = standing(ctx)
    if approval is not None:
        if gate_of(ctx) != "none" and not approval.reviewed:
            return Where("awaiting review", last, f"QA approved attempt {approval.attempt}")
        by = "QA" if approval.by == "qa" else approval.by
        return Where("done", last, f"attempt {approval.attempt} approved by {by}")
    if all(
        decision(ctx, k) == "rejected"
        for k in range(first_attempt(ctx), ctx.project.attempt_count(ctx.tid) + 1)
    ):
        return Where("escalated", last, f"all {last} attempt(s) rejected")
    spent = over_budget(ctx, last + 1)
    if spent is not None:
        return Where("escalated", last, budget_reason(spent))
    return Where("building", last, f"attempt {last} is under way")


def _refuse(ctx: StepContext, message: str, fix: str) -> DecisionRefused:
    return DecisionRefused(message, taskspec_id=ctx.tid, operation="decide", fix=fix)


def _record(ctx: StepContext, made: DecisionRecord) -> DecisionRecord:
    """Write the decision under the TaskSpec's lock (refused while a step of it runs)."""
    lock = ctx.layout.locks / f"{ctx.tid}.lock"
    with exclusive(lock, f"TaskSpec {ctx.tid} (a step of it is running; decide when it ended)"):
        written = write_decision(ctx.layout, made)
    ctx.audit("decision", kind=made.kind, seq=written.seq, who=made.who, after=made.after_attempt)
    ctx.project.refresh()
    return written


def _decision(ctx: StepContext, kind: DecisionKind, last: int, **fields: object) -> DecisionRecord:
    return DecisionRecord.model_validate(
        {
            "taskspec_id": ctx.tid,
            "seq": 1,
            "kind": kind,
            "after_attempt": last,
            "who": who_decides(ctx),
            **fields,
        }
    )


def approve(ctx: StepContext, note: str = "", commit_ref: str | None = None) -> DecisionRecord:
    """Of a TaskSpec awaiting review: it goes on. Of an escalated one: done with the last
    attempt's commit, or `commit_ref` (a commit on its branch, such as one the person made)."""
    now = where(ctx)
    if now.state not in ("awaiting review", "escalated"):
        raise _refuse(
            ctx,
            f"{ctx.tid} is {now.state} ({now.detail}): only a TaskSpec awaiting review or "
            "escalated can be approved",
            "hatchdoit status shows what waits for you; hatchdoit reject sends done work back",
        )
    commit = attempt_commit(ctx, now.last) if now.state == "escalated" else None
    if commit_ref is not None:
        commit = _resolve(ctx, commit_ref)
    if now.state == "escalated" and commit is None:
        raise _refuse(ctx, f"attempt {now.last} has no commit to approve", "pass --commit REF")
    return _record(ctx, _decision(ctx, "approve", now.last, feedback=note, commit=commit))


def _resolve(ctx: StepContext, ref: str) -> str:
    repo = ctx.project.target_repo
    if ctx.worktree.is_dir():
        # what the person committed in the worktree (a clone) reaches the target
        bring_in(ctx, rewind=False)
    found = try_git(repo, "rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}")
    commit = found.stdout.strip()
    branch = branch_of(ctx.tid)
    if found.returncode != 0 or not commit:
        raise _refuse(ctx, f"{ref!r} is no commit of {repo}", "pass a commit id or branch name")
    if not contains(repo, f"refs/heads/{branch}", commit):
        raise _refuse(
            ctx,
            f"{commit[:12]} is not on {branch}",
            f"commit your fix on {branch} (its worktree is {ctx.layout.rel(ctx.worktree)})",
        )
    return commit


def reject(ctx: StepContext, feedback: str) -> DecisionRecord:
    """A new attempt, on the same branch, whose prompt carries `feedback` (granted past
    max_attempts); of done work that was delivered, the new result is delivered again."""
    if not feedback.strip():
        raise _refuse(ctx, "the feedback is empty", "say what must change: --feedback TEXT")
    now = where(ctx)
    if now.state not in ("done", "awaiting review", "escalated"):
        raise _refuse(
            ctx,
            f"{ctx.tid} is {now.state} ({now.detail}): reject it once it is done, escalated or "
            "awaiting review",
            "hatchdoit status shows where it stands",
        )
    return _record(ctx, _decision(ctx, "reject", now.last, grants=1, feedback=feedback.strip()))


def retry(
    ctx: StepContext, attempts: int = 1, feedback: str = "", budget_usd: float | None = None
) -> DecisionRecord:
    """An escalated TaskSpec gets `attempts` more, continuing at the next attempt number; with
    `budget_usd`, that much more to spend (a TaskSpec stopped by its budget gets another
    budgets.taskspec_usd when none is named)."""
    now = where(ctx)
    if now.state != "escalated":
        raise _refuse(
            ctx,
            f"{ctx.tid} is {now.state} ({now.detail}): only an escalated TaskSpec is retried",
            f"hatchdoit reject {ctx.tid} --feedback TEXT sends done work back",
        )
    if attempts < 1:
        raise _refuse(ctx, f"--attempts {attempts}: must be 1 or more", "e.g. --attempts 2")
    if budget_usd is None:
        blocked = over_budget(ctx, now.last + 1)
        base = ctx.project.config.budgets.taskspec_usd
        budget_usd = (base or blocked.cap_usd) if blocked is not None else 0.0
    if budget_usd < 0:
        raise _refuse(ctx, f"--budget-usd {budget_usd}: must not be negative", "e.g. 2.5")
    made = _decision(
        ctx, "retry", now.last, grants=attempts, feedback=feedback, budget_usd=budget_usd
    )
    return _record(ctx, made)


def reset(ctx: StepContext, hard: bool) -> DecisionRecord:
    """Start over: the next `doit` makes a new worktree from the current base, at the next
    attempt number (earlier attempts stay on record). The old branch is kept under
    refs/hatchdoit/resets/<ID>/<n>, or deleted with `hard`."""
    now = where(ctx)
    if now.state == "not started":
        raise _refuse(ctx, f"{ctx.tid} has not started: nothing to reset", "just run doit")
    total = ctx.project.attempt_count(ctx.tid)
    return _record(ctx, _decision(ctx, "reset", total, grants=total, hard=hard))
