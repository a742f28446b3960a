"""Step `factory` (attempt k): the factory agent works in the worktree until its `.stop`."""

from __future__ import annotations

import logging
import shlex
import threading

from hatchdoit.agents.prompts import render_prompt
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.rework import start_merge
from hatchdoit.layout import Role
from hatchdoit.planning.specs import TaskSpec
from hatchdoit.provider_runs.budgets import after_run
from hatchdoit.records.models import Receipt
from hatchdoit.run.attempts import backoff_delay, feedback_section, previous_was_fault
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import branch_of
from hatchdoit.run.workspace_sync import catch_up
from hatchdoit.steps.agent_session import run_until_stop
from hatchdoit.steps.workspace_setup import ensure_set_up
from hatchdoit.steps.worktree import run_worktree


def agent_env(ctx: StepContext, attempt: int, role: Role = "factory") -> dict[str, str]:
    """Variables every agent of this attempt gets besides the session's own. What the run
    writes (the factory's summary, QA's verdict) goes into its output directory
    (run_output.py); what QA reads (the summary, the checks) is hatchdoit's copy."""
    spec, layout = ctx.spec, ctx.layout
    env = {
        "HATCHDOIT_LOC_CAP": str(spec.loc_cap),
        "HATCHDOIT_CHECKS_FILE": str(layout.checks(ctx.tid, attempt)),
    }
    if role == "factory":
        env["HATCHDOIT_SUMMARY_FILE"] = str(layout.run_handover(ctx.tid, "factory", attempt))
    else:
        env["HATCHDOIT_SUMMARY_FILE"] = str(layout.summary(ctx.tid, attempt))
        env["HATCHDOIT_VERDICT_FILE"] = str(layout.run_handover(ctx.tid, "qa", attempt))
    return env


def prompt_values(ctx: StepContext, attempt: int) -> dict[str, str]:
    spec = ctx.spec
    return {
        "taskspec_id": ctx.tid,
        "title": spec.title,
        "body": spec.body,
        "attempt": str(attempt),
        "max_attempts": str(ctx.project.max_attempts(ctx.tid)),
        "branch": branch_of(ctx.tid),
        "loc_cap": str(spec.loc_cap),
        "test_command": shlex.join(spec.test_command),
        "summary_path": str(ctx.layout.run_handover(ctx.tid, "factory", attempt)),
        "acceptance_section": acceptance_section(spec),
    }


def acceptance_section(spec: TaskSpec) -> str:
    """The TaskSpec's acceptance criteria and the files it names (a foreign plan's, see
    planning/formats/), as the prompts' `${acceptance_section}`; empty when it has none."""
    parts = []
    if spec.acceptance:
        items = "\n".join(f"- {item}" for item in spec.acceptance)
        parts.append(f"## Acceptance criteria\n\nThe work is done when:\n\n{items}\n")
    if spec.files:
        items = "\n".join(f"- `{path}`" for path in spec.files)
        parts.append(f"## Files to touch\n\nThe TaskSpec names these files:\n\n{items}\n")
    return "".join(f"\n{part}" for part in parts)


def run_factory(ctx: StepContext, attempt: int) -> Receipt:
    if previous_was_fault(ctx, attempt):
        delay = backoff_delay(ctx.project.config.limits.backoff, attempt)
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"backing off {delay:.1f}s before retrying",
            attempt=attempt,
            operation="backoff",
        )
        threading.Event().wait(delay)  # a deliberate pause, not a wait for an event
    if not ctx.worktree.is_dir():  # deleted since its step ran: bring it back from its branch
        ctx.log(
            "orchestrator",
            logging.WARNING,
            "worktree missing: re-creating it",
            attempt=attempt,
            operation="create_worktree",
        )
        run_worktree(ctx)
        ensure_set_up(ctx)  # a new worktree: set up again (SetupFailed counts no attempt)
    if catch_up(ctx.project.target_repo, ctx.worktree, ctx.tid):  # a person committed there
        ctx.log(
            "orchestrator",
            logging.WARNING,
            f"the worktree moved forward to {branch_of(ctx.tid)}, committed to since",
            attempt=attempt,
            operation="catch_up",
        )
    conflicts = start_merge(ctx, attempt)  # an attempt answering an integration refusal
    values = prompt_values(ctx, attempt)
    values["feedback_section"] = feedback_section(ctx, attempt)
    env_conflicts = {"HATCHDOIT_CONFLICTS": "\n".join(conflicts)} if conflicts else {}
    prompt = render_prompt(ctx.project.agents_dirs, "factory", values)
    env = agent_env(ctx, attempt)
    env["HATCHDOIT_BEHAVIOUR"] = ctx.spec.scripted.factory_for(attempt)
    env.update(env_conflicts)
    run, stop = run_until_stop(ctx, "factory", attempt, prompt, env)
    fault_point("wait.after_stop", ctx.tid)
    after_run(ctx, attempt)  # budget.json once the TaskSpec's runs crossed its cap
    normal = stop.source == "hook" and stop.event == "stop"
    return ctx.write_receipt(
        "factory",
        attempt,
        "ok" if normal else "failed",
        artifact=run.stop_file,
        token=run.launch.run_token,
        reasons=[] if normal else [f"factory {stop.event}: {stop.reason}"],
        data={"event": stop.event, "seq": stop.seq, "session": run.session},
    )
