"""The HATCHDOIT_* variables every agent session gets: who it is (TaskSpec, role, attempt, run
token), where its hook writes (the run's output directory: stop file, markers) and what the stop
hook needs to run (its script, the Python and the package source)."""

from __future__ import annotations

import sys
from pathlib import Path

import hatchdoit
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.run.context import StepContext

# The directory holding the hatchdoit package: the stop hook's Python (scripts/agent/stop_hook.sh)
# imports it from there without site-packages
HATCHDOIT_SOURCE = str(Path(hatchdoit.__file__).resolve().parent.parent)


def session_vars(
    ctx: StepContext, run: AgentRun, fault_signals: str, prompt_file: Path
) -> dict[str, str]:
    """The variables of `run`'s session that hatchdoit sets (the profile's own come after)."""
    layout, project = ctx.layout, ctx.project
    role, attempt = run.role, run.attempt
    return {
        "HATCHDOIT_TASKSPEC_ID": ctx.tid,
        "HATCHDOIT_ROLE": role,
        "HATCHDOIT_ATTEMPT": str(attempt),
        "HATCHDOIT_RUN_TOKEN": run.launch.run_token,
        "HATCHDOIT_STOP_FILE": str(layout.run_stop(ctx.tid, role, attempt)),
        "HATCHDOIT_STOP_HOOK": str(project.script("agent", "stop_hook.sh")),
        "HATCHDOIT_READY_FILE": str(run.marker("ready")),
        "HATCHDOIT_SUBMITTED_FILE": str(run.marker("submitted")),
        "HATCHDOIT_EXIT_FILE": str(run.marker("exit")),
        "HATCHDOIT_HEALTHY_FILE": str(run.marker("healthy")),
        "HATCHDOIT_FAULT_SIGNALS": fault_signals,
        "HATCHDOIT_AUTH_RETRIES": str(project.config.providers.auth_retries),
        "HATCHDOIT_PYTHON": sys.executable,
        "HATCHDOIT_SOURCE": HATCHDOIT_SOURCE,
        "HATCHDOIT_LOGS_DIR": str(layout.logs),
        "HATCHDOIT_PROMPT_FILE": str(prompt_file),
    }
