"""doit actions and up-to-date checks: top-level functions with plain arguments, so `doit -n N`
can run them in worker processes."""

from __future__ import annotations

import gc
import inspect
import logging
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from hatchdoit.build.reporter import StepFailed
from hatchdoit.build.snapshot import once_when_looking
from hatchdoit.core.collector import loaded
from hatchdoit.core.errors import HatchdoitError, StepError
from hatchdoit.core.locks import exclusive
from hatchdoit.core.proc import run
from hatchdoit.core.step_imports import LATE_DEPENDENCIES, import_in_step
from hatchdoit.delivery.landed import integrated
from hatchdoit.observe.state import update_state
from hatchdoit.project import Project, load_project
from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import InvalidArtifact, try_load
from hatchdoit.run.attempts import attempt_superseded, receipt
from hatchdoit.run.context import StepContext
from hatchdoit.run.workspace_files import keep_args
from hatchdoit.steps.workspace_setup import setup_is_current

# step -> "module:function"; imported when a step runs, so that `doit list` and a no-op `doit`
# (which only ask whether steps are current) never load tmux, watchdog or the agent setup.
STEP_FUNCTIONS: dict[str, str] = {
    "worktree": "hatchdoit.steps.worktree:run_worktree",
    "setup": "hatchdoit.steps.workspace_setup:run_setup",
    "factory": "hatchdoit.steps.factory:run_factory",
    "summary": "hatchdoit.steps.summary:run_summary",
    "checks": "hatchdoit.steps.checks:run_checks",
    "qa": "hatchdoit.steps.qa:run_qa",
    "taskspec": "hatchdoit.steps.finish:run_finish",
    "integrate": "hatchdoit.steps.integrate:run_integrate",
}
WHOLE_STEPS = ("worktree", "setup", "taskspec", "integrate")  # one per TaskSpec, not per attempt


def _step_function(step: str) -> Any:
    module, _, name = STEP_FUNCTIONS[step].partition(":")
    return getattr(import_in_step(module), name)


def preload_steps() -> None:
    """Import every step module and what they import late, and freeze what exists out of the
    collector's reach. Run just before `doit -n N` forks its workers (os.register_at_fork), so
    they share these modules' memory with the main process instead of each importing (and
    keeping) a copy."""
    for step in STEP_FUNCTIONS:
        _step_function(step)
    for dependency in LATE_DEPENDENCIES:
        import_in_step(dependency)
    gc.freeze()


@cache
def _project(root: str) -> Project:
    """load_project keyed by the root string: spares building a Path per call (doit asks 14
    times per TaskSpec whether a step is current)."""
    return load_project(Path(root))


def _context(root: str, tid: str) -> StepContext:
    return StepContext(_project(root), tid)


@once_when_looking  # `doit list` asks twice per step (build/snapshot.py)
def step_is_current(root: str, step: str, tid: str, attempt: int) -> bool:
    """doit `uptodate`: the step's receipt is current, or this attempt is not needed."""
    loaded()  # doit asks only once every task exists (graph.py held the collector off till now)
    ctx = _context(root, tid)
    if ctx.spec.plan_status is not None:  # done or skipped in a foreign plan: never built
        return True
    if not os.path.isdir(ctx.layout.state_dir_path(tid)):  # no record of it yet: none current
        return False
    if step == "taskspec":
        done = try_load(ctx.layout.done(tid), DoneRecord)
        return done is not None and done.digest == ctx.digest
    if step == "integrate":
        return integrated(ctx.project, tid)
    if step == "worktree":  # once delivered, it is current without it (delivery/retire.py)
        return receipt(ctx, step, 0) is not None and (
            ctx.worktree.is_dir() or integrated(ctx.project, tid)
        )
    if step == "setup":
        return setup_is_current(ctx)
    if receipt(ctx, step, attempt) is not None:
        return True
    return attempt_superseded(ctx, attempt)


# doit looks up the signature of every uptodate callable each time it checks one (for its
# magic arguments); a ready one makes that a lookup.
step_is_current.__signature__ = inspect.signature(step_is_current)  # type: ignore[attr-defined]


def group_is_current(root: str, step: str) -> bool:
    """doit `uptodate` of a step's group task (e.g. `factory`): all of its subtasks are current,
    so `doit list --status` does not report a finished build as R."""
    loaded()
    project = _project(root)
    if step in WHOLE_STEPS:
        return all(step_is_current(root, step, tid, 0) for tid in project.plan.taskspecs)
    return all(
        step_is_current(root, step, tid, k)
        for tid in project.plan.taskspecs
        for k in range(1, project.attempt_count(tid) + 1)
    )


def run_step(root: str, step: str, tid: str, attempt: int) -> bool | StepFailed:
    """doit action: run one step under the TaskSpec's lock; a StepFailed fails the doit task."""
    loaded()
    ctx = _context(root, tid)
    ctx.project.refresh()  # a step boundary: other processes may have written since
    if step not in WHOLE_STEPS and attempt_superseded(ctx, attempt):
        return True
    label = f"{step} {tid}" + (f" attempt {attempt}" if attempt else "")
    on_record = _escalation_on_record(ctx, step)
    if on_record is not None:  # its record says it already: no lock, audit or state
        if step == "taskspec":
            _deliver_notices(ctx)
        return _report(ctx, label, step, attempt, on_record)
    try:
        with exclusive(ctx.layout.locks / f"{tid}.lock", f"TaskSpec {tid}"):
            ctx.audit("step_start", step=step, attempt=attempt)
            _step_function(step)(ctx, attempt)
            ctx.audit("step_end", step=step, attempt=attempt)
    except OSError as exc:  # full disk, unwritable _logs/, vanished directory
        where = exc.filename or ctx.layout.logs
        return _report(
            ctx,
            label,
            step,
            attempt,
            StepError(
                f"file system error: {exc.strerror or exc}",
                path=where,
                operation=step,
                fix="free disk space or make the directory writable, then rerun doit",
            ),
        )
    except HatchdoitError as exc:
        return _report(ctx, label, step, attempt, exc)
    except InvalidArtifact as exc:  # a record the step reads was cut short or edited by hand
        return _report(
            ctx,
            label,
            step,
            attempt,
            StepError(
                f"invalid record: {exc}",
                operation=step,
                fix="move that file aside (the step that writes it runs again), then rerun doit",
            ),
        )
    finally:
        try:
            update_state(ctx.project, [tid])
        except OSError as exc:
            print(f"hatchdoit: cannot update {ctx.layout.current_state}: {exc}", file=sys.stderr)
        if step == "taskspec":
            _deliver_notices(ctx)
    return True


def _escalation_on_record(ctx: StepContext, step: str) -> HatchdoitError | None:
    """The escalation the finish or integrate step recorded for the current inputs, if any."""
    if step == "taskspec":
        from hatchdoit.steps.finish import escalation_on_record

        return escalation_on_record(ctx)
    if step == "integrate":
        from hatchdoit.steps.integrate import escalation_on_record as integration_on_record

        return integration_on_record(ctx)
    return None


def _deliver_notices(ctx: StepContext) -> None:
    """Send what the finish step posted (an escalation), and what an earlier send left pending.
    A notification never fails the build: send() logs its failures; a full disk is said here."""
    from hatchdoit.observe.notify import deliver_pending

    try:
        deliver_pending(ctx.project)
    except OSError as exc:
        print(f"hatchdoit: cannot deliver notifications: {exc}", file=sys.stderr)


def _report(
    ctx: StepContext, label: str, step: str, attempt: int, exc: HatchdoitError
) -> StepFailed:
    """The one place a failed step is reported: doit's failure value carrying its one
    `hatchdoit: ...` line (the reporter prints it once), an ERROR log and an audit event. A
    failure already on record (a rerun of an escalated TaskSpec) logs and audits nothing new."""
    waiting = bool(getattr(exc, "waiting", False))
    failed = StepFailed(f"hatchdoit: {label}: {exc.one_line()}", exc.message, waiting=waiting)
    if getattr(exc, "on_record", False):
        return failed
    try:
        ctx.log(
            "orchestrator",
            logging.ERROR,
            f"{label}: {exc.message}",
            attempt=attempt,
            **{"operation": step, **exc.context()},
        )
        ctx.audit("step_error", step=step, attempt=attempt, error=exc.message)
    except OSError:
        pass  # the disk is what failed; the failure's own line tells the user
    return failed


def clean_worktree(root: str, tid: str) -> None:
    """doit clean: remove the worktree through the validated script (it refuses dirty ones).

    doit 0.37 drops what a clean action prints to stderr and ignores its result (a False or a
    TaskFailed is printed, yet `doit clean` exits 0), so a refusal raises SystemExit: its one
    line reaches the user's stderr and `doit clean` exits 1, leaving any worktree later in the
    clean order for the next run (as `doit` stops at the first failed task)."""
    try:
        project = load_project(Path(root))
        done = run(
            [
                project.script("git", "remove_worktree.sh"),
                "--repo",
                project.target_repo,
                "--worktrees-root",
                project.layout.worktrees,
                "--id",
                tid,
                *keep_args(project.config.workspace),
            ],
            check=False,
            operation="remove_worktree",
        )
    except HatchdoitError as exc:
        raise SystemExit(f"hatchdoit: clean {tid}: {exc.one_line()}") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        reason = detail[-1] if detail else f"remove_worktree.sh exited {done.returncode}"
        raise SystemExit(f"hatchdoit: clean {tid}: {reason}")
    # The worktree record stays: a recreated worktree keeps the recorded base commit (it would
    # otherwise take the branch's tip, work included, as the base of the LOC count).
