"""An agent run's output directory (`layout.run_output`), and what hatchdoit takes from it.

Under confinement an agent run may write its workspace, its temp dir, its config home and this
one directory of its own: its stop file (`stop.json`, from its hook), its hook markers (ready,
submitted, exit, healthy), its hook log (`hooks.jsonl`), and its summary (`summary.json`,
factory) or verdict (`verdict.json`, QA). Nothing there is a record. hatchdoit reads each file
(a regular file, not a link, at most MAX_OUTPUT_BYTES), validates it against its schema and
against this run (TaskSpec, role, attempt, run token), and writes its own copy atomically where
the steps read it: the stop to `_logs/hooks/<ID>/<role>-<k>.stop`, the summary to
`_logs/summaries/`, the verdict to `_logs/qa/<ID>/`. The audit events of a stop (`agent_stop`,
`stop_blocked`) are written by hatchdoit from what it validated, and the hook's log lines are
copied into `_logs/hooks/hooks.jsonl`, marked as the run's.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from hatchdoit.core.atomicio import append_line, read_json, write_atomic, write_json_atomic
from hatchdoit.layout import Role
from hatchdoit.records.models import StopRecord, SummaryRecord, VerdictRecord
from hatchdoit.records.schemas import handover_problem, try_parse
from hatchdoit.run.context import StepContext

MAX_OUTPUT_BYTES = 1 << 20  # a summary, verdict or stop file larger than this is refused
MAX_LOG_IMPORT = 1 << 20  # hook log bytes copied per run


class OutputRefused(ValueError):
    """A file in a run's output directory that hatchdoit does not take (one line: why)."""


def read_output(path: Path, limit: int = MAX_OUTPUT_BYTES, offset: int | None = None) -> bytes:
    """The bytes of an agent-written file: a regular file, not a symbolic link (that could
    point at a secret), not a FIFO (that would block), at most `limit` bytes. With `offset`,
    the next `limit` bytes from there (a log read in pieces), however long the file is."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise OutputRefused(f"{path}: missing") from None
    except OSError as exc:  # ELOOP: a symbolic link
        raise OutputRefused(f"{path}: not a regular file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutputRefused(f"{path}: not a regular file")
        if offset is not None:
            return os.pread(fd, limit, offset)
        if info.st_size > limit:
            raise OutputRefused(f"{path}: {info.st_size} bytes, more than the {limit} allowed")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OutputRefused(f"{path}: more than the {limit} bytes allowed")
    return data


# --------------------------------------------------------------------------------------------
# summary and verdict


def handover_out(ctx: StepContext, role: Role, attempt: int) -> Path:
    """Where the run writes its summary (factory) or verdict (qa)."""
    return ctx.layout.run_handover(ctx.tid, role, attempt)


def collect_handover(ctx: StepContext, role: Role, attempt: int) -> str | None:
    """Take the run's summary (factory) or verdict (qa) into place when it is valid for this
    TaskSpec and attempt; None when it was, else what is wrong with it (one line). The run's
    file decides, every time: a launch that resumes a paused run of the attempt keeps what the
    paused one wrote."""
    layout = ctx.layout
    source = handover_out(ctx, role, attempt)
    model: type[SummaryRecord] | type[VerdictRecord]
    if role == "factory":
        model, target = SummaryRecord, layout.summary(ctx.tid, attempt)
    else:
        model, target = VerdictRecord, layout.verdict(ctx.tid, attempt)
    try:
        data = read_output(source)
    except OutputRefused as exc:
        return str(exc)
    if try_parse(data, source, model) is None:
        return _problem_of(data, source, model, ctx.tid, attempt)
    staged = target.with_name(f".{target.name}.check")
    write_atomic(staged, data)
    problem = handover_problem(staged, model, ctx.tid, attempt)
    if problem is not None:
        staged.unlink(missing_ok=True)
        return problem.replace(str(staged), str(source))
    os.replace(staged, target)
    ctx.audit("output_taken", role=role, attempt=attempt, source=layout.rel(source))
    return None


def _problem_of(
    data: bytes,
    source: Path,
    model: type[SummaryRecord] | type[VerdictRecord],
    tid: str,
    attempt: int,
) -> str:
    """handover_problem's words for bytes that did not parse as the model."""
    from hatchdoit.records.schemas import InvalidArtifact, parse_valid

    try:
        parse_valid(data, source, model)
    except InvalidArtifact as exc:
        return str(exc)
    return f"{source}: not valid for {tid} attempt {attempt}"


# --------------------------------------------------------------------------------------------
# the stop


def collect_stop(ctx: StepContext, role: Role, attempt: int, token: str) -> StopRecord | None:
    """Take the run's stop file into place when it is this run's (its token, TaskSpec, role and
    attempt) and newer than the one taken (seq); return the stop now in place for this run."""
    layout = ctx.layout
    official = layout.stop_file(ctx.tid, role, attempt)
    current = _load_stop(official)
    if current is not None and current.run_token != token:
        current = None
    try:
        data = read_output(layout.run_stop(ctx.tid, role, attempt))
    except OutputRefused:
        return current
    stop = try_parse(data, official, StopRecord)
    if (
        stop is None
        or stop.run_token != token
        or (stop.taskspec_id, stop.role, stop.attempt) != (ctx.tid, role, attempt)
        or stop.source != "hook"
        or (current is not None and stop.seq <= current.seq)
    ):
        return current
    write_json_atomic(official, stop.model_dump(mode="json"))
    import_hook_log(ctx, role, attempt)
    payload = stop.payload
    ctx.audit(
        "agent_stop",
        role=role,
        attempt=attempt,
        stop_event=stop.event,
        seq=stop.seq,
        session_id=payload.get("session_id"),
        transcript_path=payload.get("transcript_path"),
        stop_reason=payload.get("stop_reason"),
        last_assistant_message=str(payload.get("last_assistant_message") or "")[:500],
    )
    return stop


def _load_stop(path: Path) -> StopRecord | None:
    try:
        return try_parse(read_output(path), path, StopRecord)
    except OutputRefused:
        return None


def foreign_token(ctx: StepContext, role: Role, attempt: int, token: str) -> str | None:
    """The run token of a stop file in the output directory that is not this run's."""
    try:
        found = str(read_json(ctx.layout.run_stop(ctx.tid, role, attempt)).get("run_token"))
    except (OSError, ValueError, AttributeError):
        return None
    return found if found != token else None


def import_hook_log(ctx: StepContext, role: Role, attempt: int) -> None:
    """Copy the hook's new log lines into `_logs/hooks/hooks.jsonl` (each marked `"from_run":
    true`, with this run's TaskSpec, role and attempt whatever the line says) and audit the
    stops the guard blocked. Where the last copy ended is kept beside the stop file."""
    layout = ctx.layout
    source = layout.run_hook_log(ctx.tid, role, attempt)
    mark = layout.stop_file(ctx.tid, role, attempt).with_suffix(".log-offset")
    try:
        done = int(mark.read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        done = 0
    try:
        chunk = read_output(source, limit=MAX_LOG_IMPORT, offset=done)
    except OutputRefused:
        return
    whole = chunk.rfind(b"\n") + 1
    if whole == 0:
        return
    target = layout.component_log("hooks")
    for line in chunk[:whole].decode("utf-8", errors="replace").split("\n"):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        entry.update(taskspec_id=ctx.tid, agent_type=role, attempt=attempt, from_run=True)
        append_line(target, json.dumps(entry, ensure_ascii=False, default=str))
        if entry.get("msg") == "stop guard blocked the stop":
            ctx.audit(
                "stop_blocked",
                role=role,
                attempt=attempt,
                blocks=entry.get("blocks"),
                problem=str(entry.get("problem") or "")[:2000],
            )
    write_atomic(mark, f"{done + whole}\n")
