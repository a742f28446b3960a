"""Escalation and build-failure notifications: the configured `notify.command` (an argv, never a
shell string) runs with one JSON document on stdin. A notification never fails the build: a
command that is missing, fails or times out is logged (WARN) and the build goes on.

Escalations are sent once per TaskSpec and input digest (a marker file beside `escalated.json`),
so the reporter, the finish step and `hatchdoit ci` may all ask without sending twice.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from hatchdoit.clock import now_iso
from hatchdoit.logs import get_logger, log
from hatchdoit.project import Project
from hatchdoit.records import EscalatedRecord
from hatchdoit.schemas import try_load

CI_ENV = "HATCHDOIT_CI"  # set by `hatchdoit ci` for its doit runs: it notifies once at the end


def _logger(project: Project) -> logging.Logger:
    return get_logger(project.layout.logs, "orchestrator", project.config.logs.level)


def send(project: Project, event: str, payload: dict[str, Any]) -> bool | None:
    """Run the notify command for `event`; None when not configured for it, else success."""
    config = project.config.notify
    if not config.command or event not in config.events:
        return None
    document = {"event": event, "at": now_iso(), "project": str(project.root), **payload}
    env = {**os.environ, "HATCHDOIT_EVENT": event}
    if isinstance(payload.get("taskspec_id"), str):
        env["HATCHDOIT_TASKSPEC_ID"] = payload["taskspec_id"]
    problem: str | None = None
    try:
        done = subprocess.run(
            config.command,
            input=json.dumps(document, ensure_ascii=False, default=str),
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=config.timeout,
            check=False,
        )
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            problem = f"exited {done.returncode}" + (f": {detail[-1]}" if detail else "")
    except subprocess.TimeoutExpired:
        problem = f"timed out after {config.timeout:.0f}s"
    except OSError as exc:
        problem = f"could not run: {exc.strerror or exc}"
    log(
        _logger(project),
        logging.WARNING if problem else logging.INFO,
        f"notify {event}: " + (problem or "sent"),
        operation="notify",
        command=config.command[0],
        taskspec_id=payload.get("taskspec_id"),
    )
    return problem is None


def _marker(project: Project, tid: str, digest: str) -> Path:
    return project.layout.state_dir(tid) / f"escalated-{digest[:16]}.notified"


def notify_escalated(project: Project, tid: str) -> bool | None:
    """Notify that `tid` escalated (once per input digest); call after escalated.json is written.
    None when there is nothing to send (not escalated, already sent, or not configured)."""
    record = try_load(project.layout.escalated(tid), EscalatedRecord)
    if record is None or record.digest != project.digest(tid):
        return None
    if not project.config.notify.command or "escalated" not in project.config.notify.events:
        return None
    marker = _marker(project, tid, record.digest)
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return None
    os.close(fd)
    spec = project.taskspec(tid)
    return send(
        project,
        "escalated",
        {
            "taskspec_id": tid,
            "title": spec.title,
            "featspec": spec.featspec,
            "attempts": record.attempts,
            "reasons": record.reasons,
            "escalated_file": project.layout.rel(project.layout.escalated(tid)),
        },
    )


def notify_build_failed(
    project: Project, failures: list[dict[str, Any]], summary: dict[str, Any]
) -> bool | None:
    """Notify that a build failed: `failures` name the tasks, `summary` counts TaskSpecs."""
    return send(project, "build_failed", {"failures": failures, "summary": summary})
