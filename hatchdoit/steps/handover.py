"""Handing a prompt to an agent in tmux: readiness, bracketed paste, Enter confirmed by the
submit marker (bounded retries). Large prompts, and prompts a terminal or TUI would change (control
or format characters, tabs, CR), go as a pointer to the file."""

from __future__ import annotations

import re
from pathlib import Path

from hatchdoit.agents.waiting import wait_until
from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.steps.run_output import read_output

PASTE_LIMIT = 32 * 1024
REQUEST_LINE = re.compile(r"^<!-- hatchdoit:request=[A-Za-z-]+ -->$", re.MULTILINE)


def wait_ready(run: AgentRun) -> None:
    with run.watching() as watch:
        ready = wait_until(
            lambda: True if run.marker("ready").exists() or not run.alive() else None,
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


def submitted_count(run: AgentRun) -> int:
    try:  # written by the agent's side: read as run_output.py reads what a run writes
        return int(read_output(run.marker("submitted"), limit=64).strip() or 0)
    except (OSError, ValueError):
        return 0


def deliver(run: AgentRun, prompt_file: Path) -> None:
    """Paste the prompt, press Enter, and confirm the submit marker advanced (bounded retries)."""
    if not run.alive():
        return  # the wait for a stop will report the crash
    limits = run.ctx.project.config.limits
    before = submitted_count(run)
    run.tmux.paste_file(run.session, pasteable(prompt_file))
    confirm = run.ctx.project.profile(run.ctx.tid, run.role).profile.submit_confirm
    with run.watching() as watch:
        for press in range(1, limits.submit_retries + 1):
            run.tmux.press_enter(run.session)
            if confirm == "none":
                return
            ok = wait_until(
                lambda: True if submitted_count(run) > before or not run.alive() else None,
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


def paste_safe(text: str) -> bool:
    """True if `text` arrives as it is when pasted: at most PASTE_LIMIT bytes of printable
    characters and newlines. A terminal acts on control characters (the end-of-paste sequence) and
    its pty turns CR into LF; Claude Code's input expands tabs, drops format characters (bidi
    overrides, zero-width ones) and turns U+2028/U+2029/U+0085 into newlines."""
    if len(text.encode()) > PASTE_LIMIT:
        return False
    return all(line.isprintable() for line in text.split("\n"))


def pasteable(prompt_file: Path) -> Path:
    """The file to paste: the prompt itself, or, when it is not paste_safe, a short pointer to
    it (the agent reads the file, byte for byte)."""
    text = prompt_file.read_bytes().decode("utf-8")  # not read_text: it would turn CR into LF
    if paste_safe(text):
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
