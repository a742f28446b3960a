"""One agent run in tmux: launch (or re-attach), deliver prompts, wait for its stop.

The stop decision joins several signals: the `.stop` file from the agent's hook (inotify wakes us,
a poll backs it up), the exit marker written by launch_agent.sh, the pane's liveness, and the wall
and idle limits. Faults become `.stop` files written by the orchestrator, so every run ends in one.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hatchdoit.agent_setup import SessionPaths, prepare_session, screen_ready
from hatchdoit.atomicio import read_json, write_atomic, write_json_atomic
from hatchdoit.config import RoleLimits
from hatchdoit.errors import StepError
from hatchdoit.faults import fault_point
from hatchdoit.layout import Role
from hatchdoit.locks import slot
from hatchdoit.profiles import render
from hatchdoit.records import LaunchRecord, StopEvent, StopRecord
from hatchdoit.redaction import redact_file
from hatchdoit.schemas import try_load
from hatchdoit.steps.context import StepContext
from hatchdoit.tmux import Tmux, session_name
from hatchdoit.waiting import DirWatch, wait_until

PROGRESS_EVERY = 30.0
PASTE_LIMIT = 32 * 1024
UNSAFE_IN_PASTE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
REQUEST_LINE = re.compile(r"^<!-- hatchdoit:request=[A-Za-z-]+ -->$", re.MULTILINE)


@dataclass
class AgentRun:
    ctx: StepContext
    role: Role
    attempt: int
    launch: LaunchRecord
    tmux: Tmux

    @property
    def session(self) -> str:
        return self.launch.session

    @property
    def limits(self) -> RoleLimits:
        return getattr(self.ctx.project.config.limits, self.role)  # type: ignore[no-any-return]

    def marker(self, kind: str) -> Path:
        return self.ctx.layout.marker(self.ctx.tid, self.role, self.attempt, kind)

    @property
    def stop_file(self) -> Path:
        return self.ctx.layout.stop_file(self.ctx.tid, self.role, self.attempt)


def attach(ctx: StepContext, role: Role, attempt: int) -> AgentRun | None:
    """The run recorded for this attempt and the current inputs, if any (alive or not)."""
    launch = try_load(ctx.layout.launch_record(ctx.tid, role, attempt), LaunchRecord)
    if launch is None or launch.digest != ctx.digest:
        return None
    return AgentRun(ctx, role, attempt, launch, ctx.tmux())


def start_or_attach(
    ctx: StepContext, role: Role, attempt: int, prompt: str, env: dict[str, str]
) -> AgentRun:
    """Re-attach to a live session of this attempt, or launch a new one and deliver `prompt`."""
    existing = attach(ctx, role, attempt)
    if existing is not None and (
        existing.tmux.alive(existing.session) or _valid_stop(existing) is not None
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
        undelivered = _valid_stop(existing) is None and _submitted_count(existing) == 0
        if undelivered and profile.submit_confirm == "marker":
            _start_work(existing)  # the last build died between launch and prompt delivery
        return existing
    return _launch(ctx, role, attempt, prompt, env)


def _start_work(run: AgentRun) -> None:
    """Wait until the agent is ready, then hand it the run's prompt."""
    profile = run.ctx.project.profile(run.ctx.tid, run.role).profile
    if profile.readiness.kind == "marker":
        _wait_ready(run)
    if profile.readiness.screen is not None:
        # A TUI's start-up hook can fire before it reads its keyboard: also wait for its input
        # line on screen (woken by pane output), so the paste is not half-swallowed.
        def screen() -> str | None:
            if not run.tmux.alive(run.session):
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
        if not visible and run.tmux.alive(run.session):
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
    """Within a session slot (limits.parallel_sessions), launch or re-attach, then wait."""
    reported = [0.0]

    def waiting(seconds: float) -> None:
        if seconds - reported[0] >= PROGRESS_EVERY or not reported[0]:
            reported[0] = max(seconds, 0.001)
            print(
                f"  {ctx.tid} {role} attempt {attempt}: waiting for a free agent slot "
                f"({seconds:.0f}s)",
                file=sys.stderr,
            )

    limit = ctx.project.config.limits.parallel_sessions
    with slot(ctx.layout.locks / "sessions", limit, waiting):
        run = start_or_attach(ctx, role, attempt, prompt, env)
        return run, wait_for_stop(run)


def _launch(
    ctx: StepContext, role: Role, attempt: int, prompt: str, extra_env: dict[str, str]
) -> AgentRun:
    layout, project = ctx.layout, ctx.project
    loaded = project.profile(ctx.tid, role)
    profile = loaded.profile
    tmux = ctx.tmux()
    name = session_name(ctx.tid, role, attempt)
    tmux.kill(name)  # a dead pane kept by remain-on-exit from an interrupted launch
    for kind in ("ready", "submitted", "exit"):
        layout.marker(ctx.tid, role, attempt, kind).unlink(missing_ok=True)
    prompt_file = layout.prompt(ctx.tid, role, attempt)
    write_atomic(prompt_file, prompt)
    token = f"{ctx.digest[:12]}-{secrets.token_hex(8)}"
    launch = LaunchRecord(
        taskspec_id=ctx.tid,
        role=role,
        attempt=attempt,
        run_token=token,
        digest=ctx.digest,
        session=name,
        profile=profile.name,
        socket=project.config.tmux_socket,
        prompt_file=layout.rel(prompt_file),
    )
    run = AgentRun(ctx, role, attempt, launch, tmux)
    pane_log = layout.pane_log(ctx.tid, role, attempt)
    # Placeholders, environment and files of the profile's `setup` (a Claude settings file and
    # config home, Codex notify); for the scripted agent just its rendered argv.
    setup = prepare_session(
        loaded,
        values={
            "python": sys.executable,
            "agents_dir": str(project.agents_dir),
            "scripts_dir": str(project.scripts_dir),
            "role": role,
            "worktree": str(ctx.worktree),
            "prompt_file": str(prompt_file),
            "taskspec_id": ctx.tid,
            "attempt": str(attempt),
        },
        overrides=project.config.agent_params.get(profile.name, {}),
        paths=SessionPaths(
            run_dir=layout.logs / "sessions" / ctx.tid / f"{role}-{attempt:03d}",
            worktree=ctx.worktree,
            logs_dir=layout.logs,
            scripts_dir=project.scripts_dir,
            stream_log=pane_log.with_name(f"stream-{attempt:03d}.jsonl"),
        ),
        extra_env=extra_env,
    )
    values = setup.values
    argv = setup.argv
    if profile.prompt_delivery == "argv":
        argv.append(prompt)
    env = {
        "HATCHDOIT_TASKSPEC_ID": ctx.tid,
        "HATCHDOIT_ROLE": role,
        "HATCHDOIT_ATTEMPT": str(attempt),
        "HATCHDOIT_RUN_TOKEN": token,
        "HATCHDOIT_STOP_FILE": str(run.stop_file),
        "HATCHDOIT_STOP_HOOK": str(project.script("agent", "stop_hook.sh")),
        "HATCHDOIT_READY_FILE": str(run.marker("ready")),
        "HATCHDOIT_SUBMITTED_FILE": str(run.marker("submitted")),
        "HATCHDOIT_EXIT_FILE": str(run.marker("exit")),
        "HATCHDOIT_PYTHON": sys.executable,
        "HATCHDOIT_LOGS_DIR": str(layout.logs),
        "HATCHDOIT_PROMPT_FILE": str(prompt_file),
        **setup.env,
        **{k: render(v, values, loaded.path) for k, v in profile.env.items()},
        **extra_env,
    }
    write_json_atomic(layout.launch_record(ctx.tid, role, attempt), launch.model_dump(mode="json"))
    ctx.audit("launch", role=role, attempt=attempt, session=name, profile=profile.name)
    ctx.log(
        role,
        logging.INFO,
        "launching agent",
        agent_type=role,
        attempt=attempt,
        session=name,
        profile=profile.name,
        operation="launch",
    )
    launcher = project.script("agent", f"launch_{role}.sh")
    tmux.launch(
        name,
        cwd=ctx.worktree,
        env=env,
        argv=[
            str(launcher),
            "--worktree",
            str(ctx.worktree),
            "--worktrees-root",
            str(layout.worktrees),
            "--",
            *argv,
        ],
        log=pane_log,
    )
    _start_work(run)
    return run


def _wait_ready(run: AgentRun) -> None:
    with DirWatch(run.marker("ready").parent) as watch:
        ready = wait_until(
            lambda: (
                True if run.marker("ready").exists() or not run.tmux.alive(run.session) else None
            ),
            watch=watch,
            timeout=run.limits.ready_timeout,
            poll=run.ctx.project.config.limits.poll_interval,
        )
    if ready is None:
        raise StepError(
            f"agent session {run.session} did not become ready in {run.limits.ready_timeout:.0f}s",
            taskspec_id=run.ctx.tid,
            operation="wait_ready",
            fix="check the agent profile's readiness hook and the pane log",
        )


def _submitted_count(run: AgentRun) -> int:
    try:
        return int(run.marker("submitted").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def deliver(run: AgentRun, prompt_file: Path) -> None:
    """Paste the prompt, press Enter, and confirm the submit marker advanced (bounded retries)."""
    if not run.tmux.alive(run.session):
        return  # the wait for a stop will report the crash
    limits = run.ctx.project.config.limits
    before = _submitted_count(run)
    run.tmux.paste_file(run.session, pasteable(prompt_file))
    confirm = run.ctx.project.profile(run.ctx.tid, run.role).profile.submit_confirm
    with DirWatch(run.marker("submitted").parent) as watch:
        for press in range(1, limits.submit_retries + 1):
            run.tmux.press_enter(run.session)
            if confirm == "none":
                return
            ok = wait_until(
                lambda: (
                    True
                    if _submitted_count(run) > before or not run.tmux.alive(run.session)
                    else None
                ),
                watch=watch,
                timeout=limits.submit_timeout,
                poll=limits.poll_interval,
            )
            if ok:
                fault_point("launch.after_prompt", run.ctx.tid)
                run.ctx.audit(
                    "prompt_submitted",
                    role=run.role,
                    attempt=run.attempt,
                    presses=press,
                    prompt=run.ctx.layout.rel(prompt_file),
                )
                return
    raise StepError(
        f"prompt was not submitted to {run.session} after {limits.submit_retries} Enter presses",
        taskspec_id=run.ctx.tid,
        operation="deliver_prompt",
        fix="check the profile's submit marker hook (UserPromptSubmit) and the pane log",
    )


def pasteable(prompt_file: Path) -> Path:
    """The file to paste: the prompt itself, or, when it is large or holds control characters
    that a terminal would act on (e.g. the end-of-paste sequence), a short pointer to it."""
    text = prompt_file.read_text(encoding="utf-8")
    if len(text.encode()) <= PASTE_LIMIT and not UNSAFE_IN_PASTE.search(text):
        return prompt_file
    request = REQUEST_LINE.search(text)
    pointer = prompt_file.with_name(prompt_file.stem + ".pointer.md")
    write_atomic(
        pointer,
        (request.group(0) + "\n" if request else "")
        + f"<!-- hatchdoit:prompt-file={prompt_file} -->\n"
        + f"Your complete instructions are in the file {prompt_file}. Read that file now and "
        "follow it exactly; it is part of this prompt.\n",
    )
    return pointer


def _valid_stop(run: AgentRun, after_seq: int = 0) -> StopRecord | None:
    stop = try_load(run.stop_file, StopRecord)
    if stop is None or stop.run_token != run.launch.run_token or stop.seq <= after_seq:
        return None
    return stop


def wait_for_stop(run: AgentRun, after_seq: int = 0) -> StopRecord:
    """Block until the agent stops (hook) or a fault ends the run; always returns a StopRecord."""
    ctx, limits = run.ctx, run.ctx.project.config.limits
    pane_log = ctx.layout.pane_log(ctx.tid, run.role, run.attempt)
    started = time.monotonic()
    last_size, last_growth, last_report = -1, started, started
    warned_tokens: set[str] = set()

    def check() -> StopRecord | tuple[StopEvent, str] | None:
        nonlocal last_size, last_growth
        stop = _valid_stop(run, after_seq)
        if stop is not None:
            return stop
        _warn_foreign_stop(run, warned_tokens)
        exit_info = _exit_marker(run)
        if exit_info is not None:
            return exit_info
        if not ctx.worktree.is_dir():
            return ("crashed", f"worktree {ctx.worktree} was deleted while the agent ran")
        state = run.tmux.pane_state(run.session)
        if state is None or state.dead:
            return ("crashed", "agent session ended without a stop (pane dead or server gone)")
        now = time.monotonic()
        size = pane_log.stat().st_size if pane_log.exists() else 0
        if size != last_size:
            last_size, last_growth = size, now
        if now - started > run.limits.wall_timeout:
            return ("timeout", f"no stop within the wall limit of {run.limits.wall_timeout:.0f}s")
        if now - last_growth > run.limits.idle_timeout:
            return ("idle", f"no pane output for {run.limits.idle_timeout:.0f}s")
        return None

    fault_point("wait.started", ctx.tid)
    with DirWatch(run.stop_file.parent) as watch:
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
                return _fault_stop(run, result[0], result[1])
            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY:
                last_report = now
                print(
                    f"  {ctx.tid} {run.role} attempt {run.attempt}: waiting "
                    f"{now - started:.0f}s, idle {now - last_growth:.0f}s",
                    file=sys.stderr,
                )
            watch.wait(limits.poll_interval)


def _warn_foreign_stop(run: AgentRun, warned: set[str]) -> None:
    try:
        token = str(read_json(run.stop_file).get("run_token"))
    except (OSError, ValueError, AttributeError):
        return
    if token != run.launch.run_token and token not in warned:
        warned.add(token)
        run.ctx.log(
            "hooks",
            logging.WARNING,
            "ignored stop file with a wrong or old run token",
            agent_type=run.role,
            attempt=run.attempt,
            path=str(run.stop_file),
        )


def _exit_marker(run: AgentRun) -> tuple[StopEvent, str] | None:
    try:
        code = int(read_json(run.marker("exit"))["exit_code"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    profile = run.ctx.project.profile(run.ctx.tid, run.role).profile
    if code == 0 and profile.stop_signal == "exit":
        return ("stop", "agent process exited 0")
    if code == 0:
        return ("exited", "agent exited 0 without a stop hook")
    return ("crashed", f"agent exited with code {code}")


def _fault_stop(run: AgentRun, event: StopEvent, reason: str) -> StopRecord:
    """Capture the screen, end the session, and record the fault as this run's stop."""
    ctx = run.ctx
    screen = ctx.layout.screen_capture(ctx.tid, run.role, run.attempt)
    captured = run.tmux.capture(run.session, screen)
    run.tmux.kill(run.session)
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
        payload={"screen": ctx.layout.rel(screen)} if captured else {},
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


def end_session(run: AgentRun) -> None:
    """Keep the final screen, then close the session."""
    ctx = run.ctx
    if run.tmux.pane_state(run.session) is not None:
        run.tmux.capture(run.session, ctx.layout.screen_capture(ctx.tid, run.role, run.attempt))
        run.tmux.kill(run.session)
    redact_file(ctx.layout.pane_log(ctx.tid, run.role, run.attempt))
