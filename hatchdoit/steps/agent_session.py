"""One agent run in tmux: launch a session (or re-attach to a live one), hand it its prompt, wait
for its stop (stop_wait.py), close it. The prompt is handed over in handover.py."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
from contextlib import nullcontext
from functools import cache
from pathlib import Path

from hatchdoit.agents.profiles import render
from hatchdoit.agents.session_env import base_env, write_env_file
from hatchdoit.agents.setup import SessionPaths, prepare_session
from hatchdoit.agents.tmux import Tmux, session_name
from hatchdoit.agents.waiting import screen_ready
from hatchdoit.core.atomicio import write_atomic, write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.locks import slot
from hatchdoit.core.redaction import redact_file
from hatchdoit.layout import Role
from hatchdoit.provider_runs.gate import Gate, launching
from hatchdoit.provider_runs.pause import run_with_provider
from hatchdoit.records.models import LaunchRecord, StopRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.records.start_order import rank_of
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.run.context import StepContext
from hatchdoit.run.workspace_files import workspace_environ
from hatchdoit.steps import agent_confinement as confinement
from hatchdoit.steps.handover import deliver, submitted_count, wait_ready
from hatchdoit.steps.plan_view import plan_view, wait_for_plan
from hatchdoit.steps.session_vars import session_vars
from hatchdoit.steps.stop_wait import valid_stop, wait_for_stop

ENV_FILE = "session.env"  # in the run's session_dir


def attach(ctx: StepContext, role: Role, attempt: int) -> AgentRun | None:
    """The run recorded for this attempt and the current inputs, if any (alive or not)."""
    launch = try_load(ctx.layout.launch_record(ctx.tid, role, attempt), LaunchRecord)
    if launch is None or launch.digest != ctx.step_digest(role, attempt):
        return None
    return AgentRun(ctx, role, attempt, launch, ctx.tmux())


def start_or_attach(
    ctx: StepContext,
    role: Role,
    attempt: int,
    prompt: str,
    env: dict[str, str],
    params: dict[str, str] | None = None,
    opened: Gate | None = None,
) -> tuple[AgentRun, bool]:
    """Re-attach to a live session of this attempt, or launch a new one for `prompt` (if the
    provider's breaker still lets `opened` go); and whether its prompt is still to be handed
    over (_start_work)."""
    existing = attach(ctx, role, attempt)
    if existing is not None and (
        existing.tmux.alive(existing.session, existing.launch.run_token)
        or valid_stop(existing) is not None
    ):
        ctx.audit("reattach", role=role, attempt=attempt, session=existing.session)
        ctx.log(
            "orchestrator",
            logging.INFO,
            "re-attached to running agent session",
            agent_type=role,
            attempt=attempt,
            session=existing.session,
        )
        profile = ctx.project.profile(ctx.tid, role).profile
        undelivered = valid_stop(existing) is None and submitted_count(existing) == 0
        # True when the last build died between launch and prompt delivery
        return existing, undelivered and profile.submit_confirm == "marker"
    return _launch(ctx, role, attempt, prompt, env, params or {}, opened), True


def _start_work(run: AgentRun) -> None:
    """Wait until the agent is ready, then hand it the run's prompt."""
    profile = run.ctx.project.profile(run.ctx.tid, run.role).profile
    if profile.readiness.kind == "marker":
        wait_ready(run)
    if profile.readiness.screen is not None:
        # A TUI's start-up hook can fire before it reads its keyboard: also wait for its input
        # line on screen (woken by pane output), so the paste is not half-swallowed.
        def screen() -> str | None:
            if not run.alive():
                return None
            shown = run.tmux.server.cmd("capture-pane", "-p", "-t", f"={run.session}:")
            return None if shown.stderr else "\n".join(shown.stdout)

        limits = run.ctx.project.config.limits
        visible = screen_ready(
            screen,
            profile.readiness.screen,
            wake_dir=run.ctx.layout.pane_log(run.ctx.tid, run.role, run.attempt).parent,
            timeout=run.limits.ready_timeout,
            poll=limits.poll_interval,
        )
        if not visible and run.alive():
            raise StepError(
                f"agent session {run.session} showed no input line matching "
                f"{profile.readiness.screen!r} in {run.limits.ready_timeout:.0f}s",
                taskspec_id=run.ctx.tid,
                operation="wait_ready",
                fix="look at the pane log for a start-up dialog; `hatchdoit doctor` checks "
                "the profile",
            )
    if profile.prompt_delivery == "paste":
        deliver(run, run.ctx.layout.root / run.launch.prompt_file)


def run_until_stop(
    ctx: StepContext, role: Role, attempt: int, prompt: str, env: dict[str, str]
) -> tuple[AgentRun, StopRecord]:
    """Launch or re-attach, then wait for the stop; a provider fault pauses and runs the attempt
    again (provider_runs/pause.py)."""

    def run_once(params: dict[str, str], opened: Gate) -> tuple[AgentRun, StopRecord]:
        return _run_once(ctx, role, attempt, prompt, env, params, opened)

    return run_with_provider(ctx, role, attempt, run_once)


def _run_once(
    ctx: StepContext,
    role: Role,
    attempt: int,
    prompt: str,
    env: dict[str, str],
    params: dict[str, str],
    opened: Gate,
) -> tuple[AgentRun, StopRecord]:
    """Within a session slot (limits.parallel_sessions), launch or re-attach, then wait."""
    reported = [0.0]
    every = ctx.project.config.limits.progress_every

    def waiting(seconds: float) -> None:
        if seconds - reported[0] >= every or not reported[0]:
            reported[0] = max(seconds, 0.001)
            print(
                f"  {ctx.tid} {role} attempt {attempt}: waiting for a free agent slot "
                f"({seconds:.0f}s)",
                file=sys.stderr,
            )

    limit = ctx.project.config.limits.parallel_sessions
    rank = rank_of(ctx.layout.logs, ctx.tid)  # a free slot goes to the critical path first
    with slot(ctx.layout.locks / "sessions", limit, waiting, rank):
        run, start = start_or_attach(ctx, role, attempt, prompt, env, params, opened)
        run.probe_for = opened.state.provider if opened.probe else None
        with run.watching():  # one watch for the readiness, the submit and the stop
            if start:
                _start_work(run)
            stop = wait_for_stop(run)
            return run, stop


def _launch(
    ctx: StepContext,
    role: Role,
    attempt: int,
    prompt: str,
    extra_env: dict[str, str],
    params: dict[str, str],
    opened: Gate | None = None,
) -> AgentRun:
    """Launch the attempt's agent; `params` are parameters of this launch only (the session to
    resume after a provider fault, the spend left), over hatchdoit.yaml's agent_params."""
    layout, project = ctx.layout, ctx.project
    loaded = project.profile(ctx.tid, role)
    profile = loaded.profile
    tmux = ctx.tmux()
    name = session_name(layout.tag, ctx.tid, role, attempt)
    _clear_session(ctx, tmux, name, role, attempt)
    wait_for_plan(ctx, role, attempt)
    view = plan_view(ctx, role, attempt)
    layout.run_output(ctx.tid, role, attempt).mkdir(parents=True, exist_ok=True)
    for kind in ("ready", "submitted", "exit", "healthy"):
        layout.marker(ctx.tid, role, attempt, kind).unlink(missing_ok=True)
    prompt_file = layout.prompt(ctx.tid, role, attempt)
    write_atomic(prompt_file, prompt)
    digest = ctx.step_digest(role, attempt)
    token = f"{digest[:12]}-{secrets.token_hex(8)}"
    decision = confinement.decision_for(ctx)
    launch = LaunchRecord(
        taskspec_id=ctx.tid,
        role=role,
        attempt=attempt,
        run_token=token,
        digest=digest,
        session=name,
        profile=profile.name,
        socket=project.config.tmux_socket,
        prompt_file=layout.rel(prompt_file),
        pane_offset=_size(layout.pane_log(ctx.tid, role, attempt)),
        confinement=decision.label,
    )
    run = AgentRun(ctx, role, attempt, launch, tmux)
    pane_log = layout.pane_log(ctx.tid, role, attempt)
    run_dir = layout.session_dir(ctx.tid, role, attempt)
    user_params = project.config.agent_params.get(profile.name, {})
    # Placeholders, environment and files of the profile's `setup` (a Claude settings file and
    # config home, Codex notify); for the scripted agent just its rendered argv.
    setup = prepare_session(
        loaded,
        values={
            "python": sys.executable,
            "agents_dir": str(loaded.path.parent),
            "scripts_dir": str(project.scripts_dir),
            "role": role,
            "worktree": str(ctx.worktree),
            "prompt_file": str(prompt_file),
            "taskspec_id": ctx.tid,
            "attempt": str(attempt),
        },
        overrides={
            **confinement.confined_params(profile.setup, user_params, decision.confined),
            **user_params,
            **params,
        },
        paths=SessionPaths(
            run_dir=run_dir,
            worktree=ctx.worktree,
            logs_dir=layout.logs,
            scripts_dir=project.scripts_dir,
            stream_log=layout.stream_log(ctx.tid, role, attempt),
        ),
        extra_env=extra_env,
    )
    values = setup.values
    argv = setup.argv
    if profile.prompt_delivery == "argv":
        argv.append(prompt)
    env = {
        **workspace_environ(project.config.workspace, ctx.worktree, base_env(os.environ)),
        **session_vars(ctx, run, profile.fault_signals, prompt_file),
        **view.env(),
        **setup.env,
        **{k: render(v, values, loaded.path) for k, v in profile.env.items()},
        **extra_env,
    }
    confined = confinement.confine_agent(
        ctx, role, attempt, run_dir=run_dir, env=env,
        provider=profile.provider, setup=profile.setup, decision=decision,
    )  # fmt: skip
    readonly = () if decision.confined else view.readonly  # the sandbox's rules hold the plan
    with launching(ctx.layout, opened, ctx.tid) if opened else nullcontext(None) as episode:
        # on record only while the provider's breaker lets this launch go (provider_runs/gate.py)
        write_json_atomic(
            layout.launch_record(ctx.tid, role, attempt), launch.model_dump(mode="json")
        )
        ctx.audit(
            "launch",
            role=role,
            attempt=attempt,
            session=name,
            profile=profile.name,
            plan=view.kind,
            confinement=confined.label,
        )
    run.launched_in = episode
    ctx.log(
        role,
        logging.INFO,
        "launching agent",
        agent_type=role,
        attempt=attempt,
        session=name,
        profile=profile.name,
        operation="launch",
        plan_protection=view.kind,
        plan_dir=str(view.plan_dir),
        confinement=confined.label,
    )
    # The bundled launch_<role>.sh only adds --role: skip its bash (a program per launch); a
    # project's own scripts_dir keeps its launch_<role>.sh.
    bundled = not project.config.scripts_dir
    launcher = project.script("agent", "launch_agent.sh" if bundled else f"launch_{role}.sh")
    env_file = write_env_file(run_dir / ENV_FILE, env)
    tmux.launch(
        name,
        cwd=ctx.worktree,
        token=token,
        tid=ctx.tid,
        argv=[
            _bash(),
            "-p",  # privileged mode: no BASH_ENV, no functions from the tmux server's environment
            str(launcher),
            *(["--role", role] if bundled else []),
            "--env-file",
            str(env_file),
            *(arg for path in readonly for arg in ("--readonly", str(path))),
            *(arg for word in confined.prefix for arg in ("--confine-with", word)),
            "--worktree",
            str(ctx.worktree),
            "--worktrees-root",
            str(layout.worktrees),
            "--",
            *argv,
        ],
        log=pane_log,
    )
    return run


def _clear_session(ctx: StepContext, tmux: Tmux, name: str, role: Role, attempt: int) -> None:
    """End what is left of this attempt's previous launch (a dead pane kept by remain-on-exit
    after an interrupted build); a session of that name that no launch recorded here made is
    not this project's to end."""
    previous = try_load(ctx.layout.launch_record(ctx.tid, role, attempt), LaunchRecord)
    # Without an earlier launch on record tmux is not asked here (a program per launch): a
    # session of that name would be another's, and the launch itself says so (Tmux.launch).
    if previous is None or tmux.kill(name, previous.run_token):
        return
    raise tmux.foreign(name, ctx.tid)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@cache
def _bash() -> str:
    """The bash that runs the launchers (tmux runs a pane's argv without a shell)."""
    return shutil.which("bash") or "/bin/bash"


def end_session(run: AgentRun) -> None:
    """Keep the final screen, then close the session."""
    ctx = run.ctx
    # A quiet no-op when the session is gone already (no tmux call to ask first).
    screen = ctx.layout.screen_capture(ctx.tid, run.role, run.attempt)
    run.tmux.close(run.session, run.launch.run_token, screen)
    # Read and deleted by the launcher at its start; still there if it never started.
    (ctx.layout.session_dir(ctx.tid, run.role, run.attempt) / ENV_FILE).unlink(missing_ok=True)
    redact_file(ctx.layout.pane_log(ctx.tid, run.role, run.attempt))
