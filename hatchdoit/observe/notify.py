"""Escalation and build-failure notifications: the configured `notify.command` (an argv, never a
shell string) runs with one JSON document on stdin. A notification never fails the build: a
command that is missing, fails or times out is logged (WARN) and the build goes on.

An escalation is a notice the finish step posts (records/notices.py), once per TaskSpec and input
digest; it is sent here, by whoever delivers next (the build after its finish step, the reporter
at the end of a build, `hatchdoit ci`), and a send that fails is tried again at the next delivery.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from typing import Any

from hatchdoit.core.atomicio import read_json
from hatchdoit.core.clock import now_iso
from hatchdoit.core.locks import exclusive
from hatchdoit.core.logs import log
from hatchdoit.project import Project
from hatchdoit.records.notices import mark_sent, pending_notices

CI_ENV = "HATCHDOIT_CI"  # set by `hatchdoit ci` for its doit runs: it notifies once at the end


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
        project.logger("orchestrator"),
        logging.WARNING if problem else logging.INFO,
        f"notify {event}: " + (problem or "sent"),
        operation="notify",
        command=config.command[0],
        taskspec_id=payload.get("taskspec_id"),
    )
    return problem is None


def deliver_pending(project: Project) -> int:
    """Send every pending notice (records/notices.py) and move the sent ones aside; one that
    fails stays pending for the next delivery. One delivery at a time per project. Returns how
    many were sent."""
    layout = project.layout
    if not pending_notices(layout):
        return 0
    sent = 0
    with exclusive(layout.locks / "notify.lock", "notifications", wait=True):
        for path in pending_notices(layout):
            try:
                notice = read_json(path)
                event, payload = str(notice["event"]), dict(notice["payload"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # sent and moved by another process meanwhile, or torn: skip it
            outcome = send(project, event, payload)
            if outcome is False:
                continue  # logged by send; tried again at the next delivery
            mark_sent(layout, path)  # sent, or the event is no longer configured
            sent += outcome is True
    return sent


def notify_build_failed(
    project: Project, failures: list[dict[str, Any]], summary: dict[str, Any]
) -> bool | None:
    """Notify that a build failed: `failures` name the tasks, `summary` counts TaskSpecs."""
    return send(project, "build_failed", {"failures": failures, "summary": summary})
