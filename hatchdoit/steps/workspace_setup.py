"""Step `setup`: `workspace.setup`'s argv commands, run in a TaskSpec's worktree once it is made,
and again only when their inputs change.

The inputs are the commands and the contents of the worktree's files matching
`workspace.setup_inputs` (at any depth, so a monorepo's packages count). A worktree that is set
up for its inputs carries their digest in a marker in its own git directory (which goes with the
worktree): a recreated worktree has none and is set up again. The digest changes when a
dependency's merged work changed a lockfile (the dependent's worktree is remade) and when an
attempt's own commit changed it (the checks set it up again on that commit before the tests).

A setup that fails is not an agent's fault: the `setup` step fails with one line naming the
command, its exit code and its log, nothing counts as an attempt, `setup.json` records it
(`hatchdoit status`: setup failed), and the next `doit` tries again. A setup killed midway
leaves its marker pending: the rerun does it again. On an attempt's commit, though, the setup's
inputs are the agent's work: a failure there is a failed check of that attempt, and the step
`setup` does not take it up again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hatchdoit.core.atomicio import write_atomic, write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.layout import Layout
from hatchdoit.records.models import Receipt
from hatchdoit.records.receipts import current_receipt, write_receipt
from hatchdoit.records.schemas import try_load
from hatchdoit.records.setup_record import SetupRecord
from hatchdoit.run.attempts import first_attempt, receipt
from hatchdoit.run.context import StepContext
from hatchdoit.run.setup_commands import (
    FAILED,
    PENDING,
    SetupFailed,
    input_digest,
    marked,
    marker_path,
    run_commands,
)

STEP = "setup"


def setup_log(layout: Layout, tid: str, attempt: int) -> Path:
    return layout.logs / "setup" / f"{tid}-{attempt:03d}.log"


def setup_record(layout: Layout, tid: str) -> Path:
    return layout.state_dir(tid) / "setup.json"


def setup_is_current(ctx: StepContext) -> bool:
    """doit `uptodate` of `setup:<ID>`: no setup configured, no worktree (the step that makes
    one sets it up), or the worktree set up for its current inputs with a receipt saying so.
    Once the first attempt ran for the current inputs, what changed the inputs since is the
    attempts' work: the checks set the worktree up again on each attempt's commit (a setup
    failing there is the attempt's failed check), so this step does not run again for it."""
    ws = ctx.project.config.workspace
    if not ws.setup or not ctx.worktree.is_dir():
        return True
    found = marked(ctx.worktree)
    if found is None:  # this worktree was never set up
        return False
    try:
        digest = input_digest(ws, ctx.worktree)
    except StepError:  # not a working git worktree: the step says so when it runs
        return False
    if found == digest:
        return current_receipt(ctx.layout, ctx.tid, STEP, 0, digest) is not None
    return receipt(ctx, "factory", first_attempt(ctx)) is not None


def set_up(ctx: StepContext, attempt: int, digest: str) -> SetupRecord:
    """Run the setup in the TaskSpec's worktree and record it (setup.json; with the receipt and
    the worktree's marker when it passed)."""
    ws, layout = ctx.project.config.workspace, ctx.layout
    write_atomic(marker_path(ctx.worktree), PENDING)  # a setup cut short leaves it so
    log_path = setup_log(layout, ctx.tid, attempt)
    ctx.audit("setup_start", attempt=attempt, digest=digest)
    passthrough = ctx.project.config.checks.env_passthrough
    runs, failure = run_commands(
        ws,
        ctx.worktree,
        log_path,
        passthrough,
        ctx.project.config.confinement,
        ctx.project.target_repo,
    )
    for run in runs:
        run.log = layout.rel(log_path)
    where = layout.rel(log_path)
    record = SetupRecord(
        taskspec_id=ctx.tid,
        attempt=attempt,
        digest=digest,
        runs=runs,
        passed=failure is None,
        failure=f"setup failed: {failure} (log: {where})" if failure else None,
        log=where,
    )
    path = setup_record(layout, ctx.tid)
    write_json_atomic(path, record.model_dump(mode="json"))
    ctx.audit("setup_end", attempt=attempt, passed=record.passed, failure=record.failure)
    ctx.log(
        "orchestrator",
        logging.INFO if record.passed else logging.ERROR,
        "workspace set up" if record.passed else str(record.failure),
        attempt=attempt,
        operation="setup",
        log=where,
    )
    write_atomic(marker_path(ctx.worktree), (digest if record.passed else FAILED) + "\n")
    if record.passed:
        write_receipt(
            layout, ctx.tid, STEP, 0, digest=digest, outcome="ok", artifact=path,
            data={"attempt": attempt},
        )  # fmt: skip
    return record


def ensure_set_up(ctx: StepContext) -> Receipt | None:
    """Set the worktree up unless it is for its current inputs; SetupFailed when it fails."""
    ws = ctx.project.config.workspace
    if not ws.setup:
        return None
    digest = input_digest(ws, ctx.worktree)
    if marked(ctx.worktree) == digest:
        return current_receipt(ctx.layout, ctx.tid, STEP, 0, digest)
    record = set_up(ctx, 0, digest)
    if record.failure is not None:
        raise SetupFailed(
            record.failure,
            taskspec_id=ctx.tid,
            operation="setup",
            fix="fix workspace.setup or the project's dependencies (the log says what failed), "
            "then rerun doit; no attempt was counted",
        )
    return current_receipt(ctx.layout, ctx.tid, STEP, 0, digest)


def run_setup(ctx: StepContext, attempt: int = 0) -> Receipt | None:
    """Step `setup`: the worktree set up for its inputs (see the module's docstring)."""
    if not ctx.worktree.is_dir():
        return None
    return ensure_set_up(ctx)


def setup_on_commit(ctx: StepContext, attempt: int) -> str | None:
    """Before attempt k's checks, on its commit: set up again if the commit changed the setup's
    inputs. Returns the failure line (a failed check of the attempt), None when set up."""
    ws = ctx.project.config.workspace
    if not ws.setup:
        return None
    digest = input_digest(ws, ctx.worktree)
    if marked(ctx.worktree) == digest:
        return None
    return set_up(ctx, attempt, digest).failure


def setup_failed(layout: Layout, tid: str) -> str | None:
    """The line of a workspace setup that failed and has not passed since (status shows it)."""
    record = try_load(setup_record(layout, tid), SetupRecord)
    if record is None or record.passed or record.attempt != 0:
        return None
    return record.failure
