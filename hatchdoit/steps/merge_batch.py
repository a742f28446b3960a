"""Landing approved TaskSpecs in batches: merged onto the tip together, tested once, landed with
one compare-and-swap (`integration.batch_max`, `integration.batch_wait`).

How a batch forms under doit, where each TaskSpec's `integrate:<ID>` is its own task in some
worker: the step writes a *queued* record (`integrate.queued.json`: its approved commit) and then
takes the queue's lock (the same lock in the target repo's git directory a single landing takes).
Whoever holds the lock is the batch's *lander*: it first looks for an *outcome* the previous
lander left for it (`integrate.batched.json`, naming its approved commit) and returns that; else
it collects, itself first, up to `batch_max`, every queued record of the plan whose approved
commit is still the TaskSpec's and every TaskSpec ready to land whose integrate step has not
started (approved, no review due before integration, its dependencies landed: doit has not
given it a worker yet), in dependency order, and lands them (bisect.py decides what lands).
So approved work does not wait for a doit worker to reach the queue, and a waiting step holds
its worker only while one batch lands.
It writes each other member's outcome and releases the lock; the waiters, blocked on the lock
(an event, not a poll), take it in turn, find their outcome and go on in their own process: the
landed ones write their integrate.json, a refused one goes back to its factory as today.

Exactly once after kill -9 anywhere: before each compare-and-swap every member's intent file
(`integrate.intent.json`, as a single landing writes it) names the tip the batch started from,
and the batch's record (the lander's `integrate.batch.json`) lists the members; a rerun finds each
landed one by its `Hatchdoit-Approved` trailer since that tip (branch_guard.landed_by_intent).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hatchdoit.core.atomicio import read_json, write_json_atomic
from hatchdoit.core.locks import exclusive
from hatchdoit.delivery.bisect import BatchLanded, land_in_batches
from hatchdoit.delivery.landed import current_integration, integrated
from hatchdoit.delivery.merge_queue import Landed, Mode, Refused, integrate
from hatchdoit.records.models import TestRun
from hatchdoit.run.attempts import standing
from hatchdoit.run.branches import integration_branch
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git
from hatchdoit.steps.review_gate import gate_of


def queued_path(ctx: StepContext, tid: str) -> Path:
    return ctx.layout.state_dir(tid) / "integrate.queued.json"


def outcome_path(ctx: StepContext, tid: str) -> Path:
    return ctx.layout.state_dir(tid) / "integrate.batched.json"


def integrate_batched(ctx: StepContext, approved: str, mode: Mode) -> Landed | Refused:
    """Land `approved`, in a batch with the others waiting (see the module docstring)."""
    settings = ctx.project.config.integration
    if settings.batch_max <= 1:
        return integrate(ctx, approved, mode)
    write_json_atomic(queued_path(ctx, ctx.tid), {"approved": approved, "mode": mode})
    repo = ctx.project.target_repo
    common = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    branch = integration_branch(ctx, repo)
    with exclusive(common / "hatchdoit-integrate.lock", f"integration into {branch}", wait=True):
        found = take_outcome(ctx, ctx.tid, approved)
        if found is not None:
            return found
        if settings.batch_wait > 0:
            time.sleep(settings.batch_wait)  # the one wait the setting asks for: others join
        members = collect(ctx, approved, settings.batch_max)
        results = land_in_batches(ctx, members, mode, branch)
        for tid, result in results.items():
            if tid != ctx.tid:
                write_json_atomic(outcome_path(ctx, tid), dump(members[tid], result))
            queued_path(ctx, tid).unlink(missing_ok=True)
        return results[ctx.tid]


def collect(ctx: StepContext, approved: str, limit: int) -> dict[str, str]:
    """The batch: this TaskSpec first, then in plan order, `limit` at most, the queued ones whose
    approved commit is current and the ones ready to land whose step has not started yet (their
    step finds the outcome when doit runs it); ordered by dependency."""
    chosen: dict[str, str] = {ctx.tid: approved}
    ctx.project.refresh()
    for tid in ctx.project.plan.taskspecs:
        if len(chosen) >= limit:
            break
        if tid in chosen:
            continue
        wanted = _queued(ctx, tid) or _ready(StepContext(ctx.project, tid), chosen)
        current = wanted and wanted == ctx.project.approved_commit(tid)
        if current and not _has_outcome(ctx, tid, wanted):
            chosen[tid] = wanted
    return {tid: chosen[tid] for tid in dependency_order(ctx, list(chosen))}


def _queued(ctx: StepContext, tid: str) -> str:
    try:
        data = read_json(queued_path(ctx, tid))
    except (OSError, ValueError):
        return ""
    return str(data.get("approved") or "") if isinstance(data, dict) else ""


def _ready(other: StepContext, chosen: dict[str, str]) -> str:
    """Its approved commit when its integrate step could land it now: approved, not landed or
    escalated, no person's review still due before integration, every dependency landed."""
    project = other.project
    approved = project.approved_commit(other.tid)
    if approved is None or current_integration(project, other.tid) is not None:
        return ""
    approval = standing(other)
    if approval is None or (gate_of(other) == "before-integrate" and not approval.reviewed):
        return ""
    for dep in project.plan.built_dependencies(other.tid):
        if dep not in chosen and not integrated(project, dep):
            return ""
    return approved


def dependency_order(ctx: StepContext, tids: list[str]) -> list[str]:
    """`tids` with every dependency (direct or not) before its dependents, else in given order."""
    inside = set(tids)
    placed: list[str] = []

    def place(tid: str, seen: frozenset[str]) -> None:
        if tid in placed or tid in seen:
            return
        for dep in ctx.project.taskspec(tid).depends_on:
            if dep in inside:
                place(dep, seen | {tid})
        placed.append(tid)

    for tid in tids:
        place(tid, frozenset())
    return placed


def dump(approved: str, result: Landed | Refused) -> dict[str, Any]:
    data = asdict(result)
    data["tests"] = [t.model_dump(mode="json") for t in result.tests]
    data["kind"] = "landed" if isinstance(result, Landed) else "refused"
    data["approved"] = approved
    return data


def _has_outcome(ctx: StepContext, tid: str, approved: str) -> bool:
    try:
        data = read_json(outcome_path(ctx, tid))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("approved") == approved


def take_outcome(ctx: StepContext, tid: str, approved: str) -> Landed | Refused | None:
    """What a lander decided for `tid`'s `approved` commit (the file stays until the receipt is
    written: integrate.py's landing removes it with the intent)."""
    try:
        data = read_json(outcome_path(ctx, tid))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("approved") != approved:
        return None
    tests = [TestRun.model_validate(t) for t in data.get("tests") or []]
    queued_path(ctx, tid).unlink(missing_ok=True)
    if data.get("kind") == "landed":
        return BatchLanded(
            str(data["commit"]), str(data["previous"]), str(data["branch"]), tests, 0
        )
    return Refused(
        data["why"],
        str(data["tip"]),
        str(data["branch"]),
        files=list(data.get("files") or []),
        tests=tests,
        output=str(data.get("output") or ""),
    )
