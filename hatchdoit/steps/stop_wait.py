"""Waiting for an agent run to stop. One decision from several signals: the `.stop` file from
the agent's hook (inotify wakes us, a poll backs it up), the exit marker written by
launch_agent.sh, the pane's liveness, a deleted worktree, and the wall and idle limits. Faults
become `.stop` files written by the orchestrator, so every run ends in one."""

from __future__ import annotations

import json
import logging
import sys
import time

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.redaction import redact_file
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.provider_runs.budgets import live_cap
from hatchdoit.provider_runs.live_spend import RunSpend
from hatchdoit.provider_runs.pause import answer_probe
from hatchdoit.provider_runs.signals import SCREEN_CLASSES, output_fault
from hatchdoit.providers.faults import Fault
from hatchdoit.records.models import StopEvent, StopRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.steps.run_output import collect_stop, foreign_token, read_output

# Seconds of no pane output after which a TUI's screen is read for a limit it waits at.
SCREEN_IDLE = 3.0
SPEND_EVERY = 5.0  # seconds between reads of a run's spend, under a budget


def valid_stop(run: AgentRun, after_seq: int = 0) -> StopRecord | None:
    """This run's stop newer than `after_seq`, once hatchdoit took it from the run's output
    directory (run_output.py) or wrote it itself."""
    stop = collect_stop(run.ctx, run.role, run.attempt, run.launch.run_token)
    if stop is None or stop.seq <= after_seq:
        return None
    return stop


def wait_for_stop(run: AgentRun, after_seq: int = 0) -> StopRecord:
    """Block until the agent stops (hook) or a fault ends the run; always returns a StopRecord."""
    ctx, limits = run.ctx, run.ctx.project.config.limits
    probe_after = ctx.project.config.providers.probe_after
    pane_log = ctx.layout.pane_log(ctx.tid, run.role, run.attempt)
    started = time.monotonic()
    last_size, last_growth, last_report = -1, started, started
    warned_tokens: set[str] = set()

    screen = _watches_screen(run)
    scanned = -1
    cap, spend_checked = live_cap(ctx), started
    meter = RunSpend(run) if cap is not None else None

    def check() -> StopRecord | tuple[StopEvent, str] | tuple[StopEvent, str, Fault] | None:
        nonlocal last_size, last_growth, scanned, spend_checked
        if run.probe_for and (
            run.marker("healthy").exists() or time.monotonic() - started >= probe_after
        ):  # before the stop: a probe's normal stop (the hook marks it healthy) answered too
            answer_probe(run)
        stop = valid_stop(run, after_seq)
        if stop is not None:
            return stop
        _warn_foreign_stop(run, warned_tokens)
        exit_info = _exit_marker(run)
        if exit_info is not None:
            return exit_info
        if not ctx.worktree.is_dir():
            return ("crashed", f"worktree {ctx.worktree} was deleted while the agent ran")
        if not run.alive():
            return ("crashed", "agent session ended without a stop (pane dead or server gone)")
        now = time.monotonic()
        size = pane_log.stat().st_size if pane_log.exists() else 0
        if size != last_size:
            last_size, last_growth = size, now
        if screen and size != scanned and now - last_growth >= SCREEN_IDLE:
            scanned = size  # a TUI gone quiet: is it showing a limit it will wait at?
            fault = output_fault(run, SCREEN_CLASSES)
            if fault is not None:
                return ("stop_failure", f"{fault['class']}: {fault['message']}", fault)
        if cap is not None and meter is not None and now - spend_checked >= SPEND_EVERY:
            spend_checked = now
            spent = meter.now()
            if spent is not None and spent >= cap:
                return ("budget", f"spent ${spent:.2f}, over the budget of ${cap:.2f} left to it")
        if now - started > run.limits.wall_timeout:
            return ("timeout", f"no stop within the wall limit of {run.limits.wall_timeout:.0f}s")
        if now - last_growth > run.limits.idle_timeout:
            return ("idle", f"no pane output for {run.limits.idle_timeout:.0f}s")
        return None

    fault_point("wait.started", ctx.tid)
    with run.watching() as watch:
        while True:
            result = check()
            if isinstance(result, StopRecord):
                ctx.audit(
                    "stop",
                    role=run.role,
                    attempt=run.attempt,
                    stop_event=result.event,
                    seq=result.seq,
                    source=result.source,
                )
                return result
            if result is not None:
                return _fault_stop(run, result[0], result[1], *result[2:])
            now = time.monotonic()
            if now - last_report >= run.progress_every:
                last_report = now
                print(
                    f"  {ctx.tid} {run.role} attempt {run.attempt}: waiting "
                    f"{now - started:.0f}s, idle {now - last_growth:.0f}s",
                    file=sys.stderr,
                )
            watch.wait(limits.poll_interval)


def _warn_foreign_stop(run: AgentRun, warned: set[str]) -> None:
    token = foreign_token(run.ctx, run.role, run.attempt, run.launch.run_token)
    if token is not None and token not in warned:
        warned.add(token)
        run.ctx.log(
            "hooks",
            logging.WARNING,
            "ignored stop file with a wrong or old run token",
            agent_type=run.role,
            attempt=run.attempt,
            path=str(run.ctx.layout.run_stop(run.ctx.tid, run.role, run.attempt)),
        )


def _exit_marker(run: AgentRun) -> tuple[StopEvent, str] | None:
    try:
        code = int(json.loads(read_output(run.marker("exit"), limit=4096))["exit_code"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    profile = run.ctx.project.profile(run.ctx.tid, run.role).profile
    if code == 0 and profile.stop_signal == "exit":
        return ("stop", "agent process exited 0")
    if code == 0:
        return ("exited", "agent exited 0 without a stop hook")
    return ("crashed", f"agent exited with code {code}")


def _watches_screen(run: AgentRun) -> bool:
    """A TUI of a CLI with a table (Claude Code's) can sit at a limit without a hook firing."""
    profile = run.ctx.project.profile(run.ctx.tid, run.role).profile
    return profile.interactive and profile.fault_signals != "generic"


def _fault_stop(
    run: AgentRun, event: StopEvent, reason: str, fault: Fault | None = None
) -> StopRecord:
    """Capture the screen, end the session, and record the fault as this run's stop."""
    ctx = run.ctx
    screen = ctx.layout.screen_capture(ctx.tid, run.role, run.attempt)
    captured = run.tmux.capture(run.session, screen)
    run.end()
    redact_file(ctx.layout.pane_log(ctx.tid, run.role, run.attempt))
    previous = try_load(run.stop_file, StopRecord)
    seq = previous.seq + 1 if previous and previous.run_token == run.launch.run_token else 1
    stop = StopRecord(
        run_token=run.launch.run_token,
        taskspec_id=ctx.tid,
        role=run.role,
        attempt=run.attempt,
        event=event,
        source="orchestrator",
        seq=seq,
        reason=reason,
        payload={
            **({"screen": ctx.layout.rel(screen)} if captured else {}),
            **({"provider_fault": fault} if fault else {}),
        },
    )
    write_json_atomic(run.stop_file, stop.model_dump(mode="json"))
    level = logging.INFO if event == "stop" else logging.ERROR
    ctx.log(
        run.role,
        level,
        f"agent run ended: {event}: {reason}",
        agent_type=run.role,
        attempt=run.attempt,
        operation="wait_for_stop",
        session=run.session,
    )
    ctx.audit(
        "stop",
        role=run.role,
        attempt=run.attempt,
        stop_event=event,
        seq=seq,
        source="orchestrator",
        reason=reason,
    )
    return stop
