"""An agent run whose provider fails (README "When the provider fails"): the attempt does not
count. A usage limit, rate limit, overload, server error or network fault pauses the TaskSpec
(`paused.json`) and opens its provider's breaker (provider_runs/gate.py); the same attempt runs
again when the breaker lets it, resuming the CLI's session where the profile can (Claude Code
`--resume`). An authentication or billing fault stops the provider: no more launches on it,
this step fails with one line naming the provider, the variable and the fix, nothing is
escalated, and the next build after the fix goes on where this one stopped."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from hatchdoit.agents.logins import auth_fix
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.layout import Role
from hatchdoit.project import Project
from hatchdoit.provider_runs.budgets import before_launch
from hatchdoit.provider_runs.gate import Gate, GateTurned, answered, faulted, gate
from hatchdoit.provider_runs.signals import stop_fault
from hatchdoit.providers.fault_tables import FATAL, TRANSIENT
from hatchdoit.providers.faults import Fault
from hatchdoit.records.models import PausedRecord, StopRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.run.context import StepContext

# What a person does about a provider that refused the credentials, per provider, for an agent
# whose login hatchdoit does not know (Claude Code's and Codex's: agents/logins.py says).
CREDENTIALS = {
    "anthropic": "ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN)",
    "openai": "OPENAI_API_KEY (or CODEX_API_KEY, or `codex login`)",
}
CI_MAX_WAIT = "HATCHDOIT_CI_MAX_WAIT"  # set by `hatchdoit ci` for the doit runs it starts

# run_once(launch parameters, the gate that let it go): the run and its stop
RunOnce = Callable[[dict[str, str], Gate], tuple[AgentRun, StopRecord]]


class ProviderStopped(StepError):
    """The provider refused the credentials or the account: launching on it is over until a
    person fixes that (exit code: `doit` 1, `hatchdoit ci` 5)."""

    provider_stop = True


class ProviderPaused(StepError):
    """`hatchdoit ci`: the provider's pause outlasts providers.ci_max_wait (exit 6)."""

    paused_until = ""


def provider_of(project: Project, tid: str, role: Role) -> str:
    profile = project.profile(tid, role).profile
    return profile.provider or profile.name


def run_with_provider(
    ctx: StepContext, role: Role, attempt: int, run_once: RunOnce
) -> tuple[AgentRun, StopRecord]:
    """Run the attempt's agent (`run_once(launch params, the gate)`) until it stops for a
    reason of its own; provider faults in between pause and run it again. A launch whose
    breaker turned after its gate (provider_gate.launching) waits at the gate again."""
    provider = provider_of(ctx.project, ctx.tid, role)
    params: dict[str, str] = {}
    while True:
        opened = _wait_for_provider(ctx, role, attempt, provider)
        params.update(before_launch(ctx, role, attempt))  # a spent build budget refuses here
        try:
            run, stop = run_once(params, opened)
        except GateTurned:
            continue
        fault = stop_fault(run, stop)
        if fault is None or fault["class"] not in TRANSIENT | FATAL:
            answer_probe(run)  # a probe that ended without a provider fault: it answered
            ctx.layout.paused(ctx.tid).unlink(missing_ok=True)
            return run, stop
        params = _on_fault(ctx, run, stop, fault, provider)


def _on_fault(
    ctx: StepContext, run: AgentRun, stop: StopRecord, fault: Fault, provider: str
) -> dict[str, str]:
    """Record the fault, stop or open the breaker, set the run aside; the next launch's
    parameters (the session to resume)."""
    role, attempt, cls = run.role, run.attempt, str(fault["class"])
    run.end()
    pauses = _set_aside(ctx, run)
    fix = _fix(ctx.project, ctx.tid, role, provider, cls)
    settings = ctx.project.config.providers
    state = faulted(ctx.layout, provider, fault, settings, fix, launched_in=run.launched_in)
    fields = {"provider": provider, "fault_class": cls, "signal": fault.get("signal")}
    ctx.audit("provider_fault", role=role, attempt=attempt, **fields, resume_at=state.until)
    level = logging.ERROR if cls in FATAL else logging.WARNING
    message = f"provider {provider}: {cls}: {fault.get('message')}"
    ctx.log(role, level, message, agent_type=role, attempt=attempt, **fields)
    if cls in FATAL:
        what = "refused the credentials" if cls == "auth" else "refused the account's billing"
        raise ProviderStopped(
            f"provider {provider} {what}: {fault.get('message')}",
            taskspec_id=ctx.tid,
            operation="launch",
            fix=fix,
        )
    _write_paused(ctx, role, attempt, provider, fault, "fault", state.until, pauses)
    print(f"  {ctx.tid} {role} attempt {attempt}: {message}; paused until "
          f"{_local(state.until)}", file=sys.stderr)  # fmt: skip
    session = stop.payload.get("session_id")
    return {"resume_session": str(session)} if session else {}


def _wait_for_provider(ctx: StepContext, role: Role, attempt: int, provider: str) -> Gate:
    """Wait while the provider's breaker is open or another launch probes it."""
    every = ctx.project.config.limits.progress_every
    started, said = time.monotonic(), -every
    while True:
        opened = gate(ctx.layout, provider, ctx.tid)
        if opened.verdict == "go":
            if said >= 0:
                ctx.audit("resumed", role=role, attempt=attempt, provider=provider,
                          paused_s=round(time.monotonic() - started, 3))  # fmt: skip
            return opened
        state = opened.state
        if opened.verdict == "stopped":
            raise ProviderStopped(
                f"provider {provider} is stopped: {state.fault}: {state.message}",
                taskspec_id=ctx.tid,
                operation="launch",
                fix=state.fix or _fix(ctx.project, ctx.tid, role, provider, str(state.fault)),
            )
        now = time.monotonic()
        if now - said >= every:
            said = now
            previous = try_load(ctx.layout.paused(ctx.tid), PausedRecord)
            mine = previous is not None and (previous.role, previous.attempt) == (role, attempt)
            waiting = previous.waiting_for if previous is not None and mine else "provider"
            fault = {"class": state.fault or "other", "message": state.message}
            until = state.until if state.state == "open" else None
            count = previous.pauses if previous is not None and mine else 1
            _write_paused(ctx, role, attempt, provider, fault, waiting, until, count)
            why = f"a probe of {provider}" if state.state == "probing" else f"{provider}"
            print(f"  {ctx.tid} {role} attempt {attempt}: waiting for {why} ({state.fault}); "
                  f"resumes {_local(until) if until else 'when it answers'}",
                  file=sys.stderr)  # fmt: skip
        _ci_limit(ctx, provider, opened)  # after paused.json says when
        left = (opened.until - datetime.now(UTC)).total_seconds() if opened.until else 1.0
        time.sleep(max(0.05, min(left, 1.0)))


def _ci_limit(ctx: StepContext, provider: str, opened: Gate) -> None:
    limit = os.environ.get(CI_MAX_WAIT)
    if not limit or opened.until is None:
        return
    left = (opened.until - datetime.now(UTC)).total_seconds()
    if left > float(limit):
        paused = ProviderPaused(
            f"provider {provider} paused ({opened.state.fault}) until "
            f"{opened.state.until}: longer than providers.ci_max_wait ({float(limit):.0f}s)",
            taskspec_id=ctx.tid,
            operation="launch",
            fix="run hatchdoit ci again after that time; the paused attempt is kept",
        )
        paused.paused_until = str(opened.state.until)
        raise paused


def _set_aside(ctx: StepContext, run: AgentRun) -> int:
    """Move the faulted launch's record and stop aside (`*.paused-<n>.*`), so that the attempt
    launches anew instead of re-attaching to it; the number of this pause."""
    layout, role, attempt = ctx.layout, run.role, run.attempt
    record = layout.launch_record(ctx.tid, role, attempt)
    n = len(list(record.parent.glob(f"{role}-{attempt:03d}.paused-*.launch.json"))) + 1
    for path, suffix in ((record, ".launch.json"), (run.stop_file, ".stop")):
        if path.exists():
            os.replace(
                path, path.with_name(path.name.removesuffix(suffix) + f".paused-{n}{suffix}")
            )
    return n


def _write_paused(
    ctx: StepContext,
    role: Role,
    attempt: int,
    provider: str,
    fault: Fault,
    waiting_for: str,
    until: str | None,
    pauses: int,
) -> None:
    path = ctx.layout.paused(ctx.tid)
    before = try_load(path, PausedRecord)
    same = before is not None and (before.role, before.attempt) == (role, attempt)
    record = PausedRecord(
        taskspec_id=ctx.tid,
        role=role,
        attempt=attempt,
        provider=provider,
        fault=fault["class"],
        message=str(fault.get("message") or "")[:500],
        waiting_for=waiting_for,  # type: ignore[arg-type]
        resume_at=until,
        pauses=pauses,
        **({"since": before.since} if same and before is not None else {}),
    )  # a rewrite while waiting keeps when the pause began
    write_json_atomic(path, record.model_dump(mode="json"))


def _fix(project: Project, tid: str, role: Role, provider: str, cls: str) -> str:
    profile = project.profile_name(tid, role)
    check = f"hatchdoit doctor --profile {profile}"
    if cls == "billing":
        return f"add credit or raise the limit of the {provider} account, then rerun doit"
    login = auth_fix(project.profile(tid, role).profile.setup, os.environ)
    if login is not None:  # the fix for the credential in use: a login, a token, a key
        return f"{login}; `{check}`, then rerun doit: the attempt was not counted"
    variable = CREDENTIALS.get(provider, f"the credentials profile {profile} passes")
    return f"check {variable}; `{check}`, then rerun doit: the attempt was not counted"


def _local(moment: str | None) -> str:
    if not moment:
        return "?"
    when = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone()
    return when.strftime("%H:%M:%S %Z")


def answer_probe(run: AgentRun) -> None:
    """The provider answered this run, its breaker's probe: close the breaker, so the others
    may launch, with the audit line on record first (under the breaker's lock)."""
    provider, ctx = run.probe_for, run.ctx
    if provider is None:
        return

    def said() -> None:
        ctx.audit("provider_answered", role=run.role, attempt=run.attempt, provider=provider)

    answered(ctx.layout, provider, said)
    run.probe_for = None
