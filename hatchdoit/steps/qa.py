"""Step `qa` (attempt k): the QA agent's verdict; approved only if the checks passed too."""

from __future__ import annotations

import json
import logging

from hatchdoit.agents.prompts import render_prompt
from hatchdoit.core.atomicio import read_json
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.branch_guard import guard_after_session
from hatchdoit.delivery.commits import clean_to, discard_qa_changes
from hatchdoit.provider_runs.budgets import after_run
from hatchdoit.records.models import Receipt, VerdictRecord
from hatchdoit.records.schemas import load_valid
from hatchdoit.run.attempts import attempt_commit, base_commit, receipt
from hatchdoit.run.context import StepContext
from hatchdoit.steps.agent_session import end_session, run_until_stop
from hatchdoit.steps.factory import agent_env, prompt_values
from hatchdoit.steps.run_output import collect_handover


def _json_text(path_value: object) -> str:
    try:
        return json.dumps(read_json(path_value), indent=2)  # type: ignore[arg-type]
    except (OSError, ValueError):
        return "(missing or not valid JSON)"


def run_qa(ctx: StepContext, attempt: int) -> Receipt:
    layout = ctx.layout
    earlier = [receipt(ctx, step, attempt) for step in ("factory", "summary")]
    faults = [
        r for rec in earlier if rec is not None and rec.outcome == "failed" for r in rec.reasons
    ]
    checks = receipt(ctx, "checks", attempt)
    check_failures = list(checks.reasons) if checks is not None else ["checks missing"]
    commit = attempt_commit(ctx, attempt)
    if faults or commit is None:
        faults = faults or ["the attempt has no commit to review"]
        return _decide(
            ctx, attempt, "rejected", [*faults, *check_failures], "", None, fault=True, commit=None
        )
    clean_to(ctx, commit, "before QA")
    values = prompt_values(ctx, attempt)
    base = base_commit(ctx, attempt)
    values.update(
        base_commit=base,
        commit=commit,
        checks_path=str(layout.checks(ctx.tid, attempt)),
        checks_json=_json_text(layout.checks(ctx.tid, attempt)),
        summary_path=str(layout.summary(ctx.tid, attempt)),
        summary_json=_json_text(layout.summary(ctx.tid, attempt)),
        verdict_path=str(layout.run_handover(ctx.tid, "qa", attempt)),
    )
    prompt = render_prompt(ctx.project.agents_dirs, "qa", values)
    env = agent_env(ctx, attempt, "qa")
    env["HATCHDOIT_BEHAVIOUR"] = ctx.spec.scripted.qa
    run, stop = run_until_stop(ctx, "qa", attempt, prompt, env)
    after_run(ctx, attempt)
    fault_point("qa.after_stop", ctx.tid)
    end_session(run)
    leftovers = discard_qa_changes(ctx, attempt, commit)
    guard_after_session(ctx, "QA")
    verdict_path = layout.verdict(ctx.tid, attempt)
    problem = collect_handover(ctx, "qa", attempt)  # into verdict_path when valid
    if problem is not None:
        reason = f"QA wrote no valid verdict ({stop.event}): {problem}"
        return _decide(
            ctx, attempt, "rejected", [reason, *check_failures], "", None, fault=True, commit=commit
        )
    verdict = load_valid(verdict_path, VerdictRecord)
    approved = verdict.verdict == "approved" and not check_failures
    reasons = [*verdict.reasons, *check_failures]
    return _decide(
        ctx,
        attempt,
        "approved" if approved else "rejected",
        reasons,
        verdict.feedback,
        verdict_path,
        fault=False,
        commit=commit,
        qa_leftovers=leftovers,
    )


def _decide(
    ctx: StepContext,
    attempt: int,
    decision: str,
    reasons: list[str],
    feedback: str,
    artifact: object,
    *,
    fault: bool,
    commit: str | None,
    qa_leftovers: str | None = None,
) -> Receipt:
    ctx.audit("verdict", attempt=attempt, decision=decision, reasons=reasons, commit=commit)
    ctx.log(
        "qa",
        logging.INFO if decision == "approved" else logging.WARNING,
        f"attempt {attempt} {decision}",
        attempt=attempt,
        agent_type="qa",
        operation="verdict",
        reasons=reasons,
    )
    return ctx.write_receipt(
        "qa",
        attempt,
        "ok" if decision == "approved" else "failed",
        artifact=artifact,  # type: ignore[arg-type]
        reasons=reasons,
        data={
            "decision": decision,
            "feedback": feedback,
            "fault": fault,
            "commit": commit,
            **({"qa_leftovers": qa_leftovers} if qa_leftovers else {}),
        },
    )
