"""Step `summary` (attempt k): the factory's summary JSON, asked for again if missing or invalid."""

from __future__ import annotations

import logging

from hatchdoit.agents.prompts import render_prompt
from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.branch_guard import guard_after_session
from hatchdoit.delivery.commits import bring_in, commit_leftovers
from hatchdoit.records.models import Receipt
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.run.attempts import receipt
from hatchdoit.run.context import StepContext
from hatchdoit.steps.agent_session import attach, end_session
from hatchdoit.steps.factory import prompt_values
from hatchdoit.steps.handover import deliver
from hatchdoit.steps.run_output import collect_handover
from hatchdoit.steps.stop_wait import wait_for_stop


def check_summary(ctx: StepContext, attempt: int) -> str | None:
    """None once the summary the factory wrote into its run's output directory is valid for
    this TaskSpec and attempt and taken into place (run_output.py), else what is wrong."""
    return collect_handover(ctx, "factory", attempt)


def run_summary(ctx: StepContext, attempt: int) -> Receipt:
    factory = receipt(ctx, "factory", attempt)
    assert factory is not None, "doit runs factory before summary"
    run = attach(ctx, "factory", attempt)
    if factory.outcome == "failed":
        if run is not None:
            end_session(run)  # e.g. an API error: the TUI is still open
        reasons = [f"no summary: {r}" for r in factory.reasons]
        return _failed(ctx, attempt, reasons, _commit_data(ctx, attempt))
    problem = check_summary(ctx, attempt)
    seq = int(factory.data.get("seq", 1))
    tries = 0
    # Only an interactive agent is still listening after its stop; a headless one has exited.
    interactive = ctx.project.profile(ctx.tid, "factory").profile.interactive
    limit = ctx.project.config.limits.summary_injections if interactive else 0
    while (
        problem is not None
        and tries < limit
        and run is not None
        and run.tmux.alive(run.session, run.launch.run_token)
    ):
        tries += 1
        fault_point("summary.before_request", ctx.tid)
        seq = _inject(ctx, run, attempt, problem, tries, seq)
        problem = check_summary(ctx, attempt)
    if run is not None:
        end_session(run)
    data = {"injections": tries, **_commit_data(ctx, attempt)}
    if problem is not None:
        ctx.log(
            "factory",
            logging.ERROR,
            "summary missing or invalid",
            attempt=attempt,
            agent_type="factory",
            operation="summary",
            problem=problem,
            injections=tries,
        )
        reasons = [f"summary invalid after {tries} request(s): {problem}"]
        return _failed(ctx, attempt, reasons, data)
    return ctx.write_receipt(
        "summary",
        attempt,
        "ok",
        artifact=ctx.layout.summary(ctx.tid, attempt),
        data=data,
    )


def _commit_data(ctx: StepContext, attempt: int) -> dict[str, object]:
    """The attempt's commit, once the factory's session has ended (delivery/commits.py): what it
    left uncommitted is committed now. Nothing when the worktree is gone (a crash the waits saw).
    The integration branch is checked too: the session may have moved it
    (delivery/branch_guard.py), once the agent's commits are in the target (what it sees)."""
    if ctx.worktree.is_dir():
        bring_in(ctx)
    guard_after_session(ctx, "factory")
    if not ctx.worktree.is_dir():
        return {}
    commit, committed = commit_leftovers(ctx, attempt)
    return {"commit": commit, "committed_for_agent": committed}


def _inject(ctx: StepContext, run: AgentRun, attempt: int, problem: str, nth: int, seq: int) -> int:
    values = prompt_values(ctx, attempt)
    values["problem"] = f"The orchestrator found: {problem}"
    prompt_file = ctx.layout.prompt(ctx.tid, "factory", attempt, name=f"summary-request-{nth}")
    write_atomic(prompt_file, render_prompt(ctx.project.agents_dirs, "summary", values))
    ctx.audit("summary_injected", role="factory", attempt=attempt, nth=nth)
    ctx.log(
        "factory",
        logging.WARNING,
        "summary missing or invalid: asking the agent",
        attempt=attempt,
        agent_type="factory",
        operation="inject_summary",
        problem=problem,
    )
    with run.watching():  # one watch for the submit and the stop
        deliver(run, prompt_file)
        return wait_for_stop(run, after_seq=seq).seq


def _failed(ctx: StepContext, attempt: int, reasons: list[str], data: dict[str, object]) -> Receipt:
    return ctx.write_receipt("summary", attempt, "failed", reasons=reasons, data=data)
