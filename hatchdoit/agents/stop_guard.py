"""The stop guard of Claude profiles: no stop without the role's output file.

With HATCHDOIT_STOP_GUARD=N > 0, a Stop while the factory's summary (or QA's verdict) is missing
or invalid answers Claude Code's block decision `{"decision": "block", "reason": "..."}`, naming
exactly what to write where, at most N times per run, and not again when the agent was already
blocked (`stop_hook_active`) and ignored it. The orchestrator's summary injection stays the
fallback. Imported by the stop hook (stop_hook.py) only when a guard is set: validating the file
loads pydantic.
"""

from __future__ import annotations

import sys

from hatchdoit.agents.stop_hook import log_line, sidecar
from hatchdoit.core.atomicio import read_json, write_json_atomic

# Not typing.TYPE_CHECKING: importing typing costs the stop hook's Python 3 ms at every stop.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SUMMARY_FIELDS = (
    'taskspec_id ("{tid}"), agent_type ("factory"), iteration ({attempt}), '
    "status (completed|failed|partial), implementation_files (list of paths), "
    'test_results ({{"passed": N, "failed": N}}), loc_analysis ({{"actual": N, "cap": {cap}}}), '
    "next_steps (list of strings), handover_notes (text)"
)


def output_problem(env: dict[str, str]) -> tuple[str, str] | None:
    """(problem, instruction) when the role's output file is missing or invalid, else None."""
    if sys.flags.no_site:  # started with -S by stop_hook.sh: pydantic is in site-packages
        import site

        site.main()
    from pathlib import Path

    from hatchdoit.records.models import SummaryRecord, VerdictRecord
    from hatchdoit.records.schemas import handover_problem

    tid, attempt = env["HATCHDOIT_TASKSPEC_ID"], int(env["HATCHDOIT_ATTEMPT"])
    if env["HATCHDOIT_ROLE"] == "factory":
        path_text = env.get("HATCHDOIT_SUMMARY_FILE")
        if not path_text:
            return None
        fields = SUMMARY_FIELDS.format(
            tid=tid, attempt=attempt, cap=env.get("HATCHDOIT_LOC_CAP", "N")
        )
        instruction = (
            f"hatchdoit-summary-required: before you stop, write your implementation summary as "
            f"JSON to `{path_text}`. It must be one JSON object with exactly these fields: "
            f"{fields}. Write the file with your file-writing tool, then stop."
        )
        problem = handover_problem(Path(path_text), SummaryRecord, tid, attempt)
        return None if problem is None else (problem, instruction)
    path_text = env.get("HATCHDOIT_VERDICT_FILE")
    if not path_text:
        return None
    instruction = (
        f"hatchdoit-verdict-required: before you stop, write your verdict as JSON to "
        f'`{path_text}`: {{"taskspec_id": "{tid}", "attempt": {attempt}, "verdict": "approved" or '
        f'"rejected", "reasons": ["..."], "feedback": "what the factory must change, if '
        f'rejected"}}. Write the file with your file-writing tool, then stop.'
    )
    problem = handover_problem(Path(path_text), VerdictRecord, tid, attempt)
    return None if problem is None else (problem, instruction)


def guard_block(env: dict[str, str], payload: dict[str, Any]) -> str | None:
    """The block reason when this stop must not happen yet (see the module docstring)."""
    try:
        limit = int(env.get("HATCHDOIT_STOP_GUARD") or 0)
    except ValueError:
        limit = 0
    if limit <= 0:
        return None
    found = output_problem(env)
    if found is None:
        return None
    problem, instruction = found
    state_file = sidecar(env, "guard.json")
    state: dict[str, Any] = {}
    try:
        loaded = read_json(state_file)
        if isinstance(loaded, dict) and loaded.get("run_token") == env["HATCHDOIT_RUN_TOKEN"]:
            state = loaded
    except (OSError, ValueError):
        pass
    blocks = int(state.get("blocks", 0))
    ignored = payload.get("stop_hook_active") is True and state.get("last_problem") == problem
    if blocks >= limit or ignored:
        log_line(env, "stop guard lets the agent stop", "WARN", problem=problem, blocks=blocks)
        return None
    write_json_atomic(
        state_file,
        {"run_token": env["HATCHDOIT_RUN_TOKEN"], "blocks": blocks + 1, "last_problem": problem},
    )
    # hatchdoit audits the block (`stop_blocked`) when it copies this line (run_output.py)
    log_line(env, "stop guard blocked the stop", "WARN", problem=problem, blocks=blocks + 1)
    return f"{instruction} The orchestrator found: {problem}"
