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
So approved work does not wait for a doit worker to reach the queue. Only TaskSpecs the build
was asked to land are taken (run/landing_scope.py: `doit integrate:A` lands A and its
dependencies, never another approved TaskSpec).
It writes each other member's outcome and releases the lock; the waiters, blocked on the lock
(an event, not a poll), take it in turn, find their outcome and go on in their own process: the
landed ones write their integrate.json, a refused one goes back to its factory as today.

Waiting holds no doit worker when it need not: a step that finds the queue held by a sibling
worker of its build (a lander) and on whose landing nothing else of the build depends writes its
queued record `handed_over` *before* trying the lock and returns `Queued`, freeing its worker for
an agent. Whoever lets the queue go afterwards (lander or waiter) lands the handed-over records
it finds (land_handed_over), and a handed-over member's receipt is written by its lander (unless
its step runs again meanwhile: it then takes its outcome itself). Written before the try, the
record cannot be missed: the holder the step saw looks after releasing.

Exactly once after kill -9 anywhere: every member's intent file (`integrate.intent.json`, as a
single landing writes it) names the tip the batch started from and, just before the
compare-and-swap, the commit built; a rerun finds each landed one by its `Hatchdoit-Approved`
trailer on that commit (branch_guard.landed_by_intent). The batch's record (the lander's
`integrate.batch.json`, written before the compare-and-swap, removed once the checkouts were
told) lets the next lander finish what a crash in between left: the seeded checkout brought up
to date (bisect.recover_batch).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hatchdoit.core.atomicio import read_json, write_json_atomic
from hatchdoit.core.errors import BusyError
from hatchdoit.core.locks import exclusive
from hatchdoit.delivery.bisect import BatchLanded, land_in_batches, recover_batch
from hatchdoit.delivery.landed import current_integration, integrated
from hatchdoit.delivery.merge_queue import Landed, Mode, Refused, integrate
from hatchdoit.records.models import TestRun
from hatchdoit.run.attempts import standing
from hatchdoit.run.branches import integration_branch
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git
from hatchdoit.run.landing_scope import may_land
from hatchdoit.steps.landing_record import record_landed
from hatchdoit.steps.queue_handover import held_by_this_build, may_hand_over
from hatchdoit.steps.review_gate import gate_of


def queued_path(ctx: StepContext, tid: str) -> Path:
    return ctx.layout.state_dir(tid) / "integrate.queued.json"


def outcome_path(ctx: StepContext, tid: str) -> Path:
    return ctx.layout.state_dir(tid) / "integrate.batched.json"


RECEIPT_TRIES = 40  # 2 s for a handed-over step to let its TaskSpec's lock go


# A handed-over member the batch refused, settled by its lander: (member, refusal, approved)
Settle = Callable[[StepContext, Refused, str], None]


@dataclass
class Queued:
    """The integrate step handed its landing to the batch landing now (see the module
    docstring): its lander lands it and writes its receipt."""

    said: str


def integrate_batched(
    ctx: StepContext, approved: str, mode: Mode, settle: Settle | None = None
) -> Landed | Refused | Queued:
    """Land `approved`, in a batch with the others waiting (see the module docstring); `settle`
    takes a handed-over member the batch refused."""
    settings = ctx.project.config.integration
    if settings.batch_max <= 1:
        return integrate(ctx, approved, mode)
    repo = ctx.project.target_repo
    branch = integration_branch(ctx, repo)
    lock = queue_lock(repo)
    hand_over = may_hand_over(ctx)
    write_json_atomic(
        queued_path(ctx, ctx.tid), {"approved": approved, "mode": mode, "handed_over": hand_over}
    )
    queue = ExitStack()
    try:
        queue.enter_context(exclusive(lock, f"integration into {branch}"))
    except BusyError:
        if hand_over and held_by_this_build(ctx, lock):
            return Queued("waits for the batch landing now; its lander lands it (no worker held)")
        if hand_over:  # held by another program: wait for it here, as a plain waiter
            write_json_atomic(queued_path(ctx, ctx.tid), {"approved": approved, "mode": mode})
        queue.enter_context(exclusive(lock, f"integration into {branch}", wait=True))
    with queue:
        return _lead(ctx, approved, mode, branch, settle)


def finish_handed_over(ctx: StepContext, mode: Mode, settle: Settle | None = None) -> None:
    """After a step that held the queue recorded its own outcome: the landings handed over to
    it meanwhile (land_handed_over)."""
    if ctx.project.config.integration.batch_max <= 1:
        return
    repo = ctx.project.target_repo
    land_handed_over(ctx, mode, integration_branch(ctx, repo), queue_lock(repo), settle)


def queue_lock(repo: Path) -> Path:
    """The queue's lock (the one a single landing takes), in the target repo's git directory."""
    common = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    return common / "hatchdoit-integrate.lock"


def _lead(
    ctx: StepContext, approved: str, mode: Mode, branch: str, settle: Settle | None
) -> Landed | Refused:
    """Holding the queue's lock: an interrupted batch finished, then the outcome a lander left
    for this TaskSpec, else a batch led by it."""
    recover_batch(ctx, branch)
    found = take_outcome(ctx, ctx.tid, approved)
    if found is not None:
        return found
    settings = ctx.project.config.integration
    if settings.batch_wait > 0:
        time.sleep(settings.batch_wait)  # the one wait the setting asks for: others join
    members = collect(ctx, {ctx.tid: approved}, settings.batch_max)
    return _land(ctx, members, mode, branch, own=True, settle=settle)[ctx.tid]


def _land(
    ctx: StepContext,
    members: dict[str, str],
    mode: Mode,
    branch: str,
    own: bool,
    settle: Settle | None = None,
) -> dict[str, Landed | Refused]:
    """Land a batch led by `ctx`; each member's outcome left for its step (`own`: but the
    lander's, returned to it), or, for a member whose step handed its landing over, its receipt
    written here when its step is not running."""
    results = land_in_batches(ctx, members, mode, branch)
    for tid, result in results.items():
        if own and tid == ctx.tid:
            queued_path(ctx, tid).unlink(missing_ok=True)
            continue
        handed = _handed_over(ctx, tid)
        write_json_atomic(outcome_path(ctx, tid), dump(members[tid], result))
        queued_path(ctx, tid).unlink(missing_ok=True)
        if handed and (isinstance(result, Landed) or settle is not None):
            _receipt_for(ctx, tid, members[tid], settle)
        elif handed:
            print(f"  {tid}: refused in the batch: the next run sends it back", file=sys.stderr)
    return results


def land_handed_over(
    ctx: StepContext, mode: Mode, branch: str, lock: Path, settle: Settle | None = None
) -> None:
    """After releasing the queue: the landings handed over meanwhile (their steps returned
    while this process held it) are landed here, batch after batch, until none is left."""
    settings = ctx.project.config.integration
    while True:
        waiting = {t: a for t, a in _handed_over_queue(ctx).items() if t != ctx.tid}
        if not waiting:
            return
        with exclusive(lock, f"integration into {branch}", wait=True):
            recover_batch(ctx, branch)
            chosen: dict[str, str] = {}
            for tid, approved in _handed_over_queue(ctx).items():
                if len(chosen) < settings.batch_max and tid != ctx.tid:
                    chosen[tid] = approved
            if chosen:
                ordered = dependency_order(ctx, list(chosen))
                lander = StepContext(ctx.project, ordered[0])
                members = {t: chosen[t] for t in ordered}
                _land(lander, members, mode, branch, own=False, settle=settle)


def _handed_over(ctx: StepContext, tid: str) -> bool:
    try:
        data = read_json(queued_path(ctx, tid))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("handed_over"))


def _handed_over_queue(ctx: StepContext) -> dict[str, str]:
    """The handed-over landings still queued, current and in this build's scope."""
    ctx.project.refresh()
    found: dict[str, str] = {}
    for tid in ctx.project.plan.taskspecs:
        if not may_land(tid) or not _handed_over(ctx, tid):
            continue
        approved = _queued(ctx, tid)
        if approved and approved == ctx.project.approved_commit(tid):
            found[tid] = approved
        else:
            queued_path(ctx, tid).unlink(missing_ok=True)  # not current: its next step decides
    return found


def _receipt_for(ctx: StepContext, tid: str, approved: str, settle: Settle | None = None) -> None:
    """A handed-over member's receipt, from the outcome left for it, or its refusal settled by
    `settle`, unless its step is running (it then takes the outcome itself)."""
    member = StepContext(ctx.project, tid)
    for _ in range(RECEIPT_TRIES):  # its step may be returning this instant, its lock still held
        try:
            with exclusive(member.layout.locks / f"{tid}.lock", f"TaskSpec {tid}"):
                landed = take_outcome(member, tid, approved)
                if isinstance(landed, Landed):
                    record_landed(member, landed, approved, 1)
                    outcome_path(member, tid).unlink(missing_ok=True)
                elif landed is not None and settle is not None:
                    # taken first: a kill before it is settled lands it again next run, never
                    # sends it back twice
                    outcome_path(member, tid).unlink(missing_ok=True)
                    settle(member, landed, approved)
                return
        except BusyError:
            threading.Event().wait(0.05)


def collect(ctx: StepContext, first: dict[str, str], limit: int) -> dict[str, str]:
    """The batch: `first` (this TaskSpec) and, `limit` at most, of the TaskSpecs
    this build may land (run/landing_scope.py), the queued ones whose approved commit is
    current and the ones ready to land whose step has not started yet (their step finds the
    outcome when doit runs it); in plan order, dependencies first."""
    chosen: dict[str, str] = dict(first)
    ctx.project.refresh()
    for tid in ctx.project.plan.taskspecs:
        if len(chosen) >= limit:
            break
        if tid in chosen or not may_land(tid):
            continue
        wanted = _queued(ctx, tid) or _ready(StepContext(ctx.project, tid), chosen)
        current = wanted and wanted == ctx.project.approved_commit(tid)
        if current and not _has_outcome(ctx, tid, wanted):
            chosen[tid] = wanted
    # plan order whoever leads, so a batch (and a bisection's prefixes) is the same however
    # its members' steps happened to reach the queue
    order = {tid: i for i, tid in enumerate(ctx.project.plan.taskspecs)}
    in_plan = sorted(chosen, key=lambda tid: order.get(tid, len(order)))
    return {tid: chosen[tid] for tid in dependency_order(ctx, in_plan)}


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
