#!/usr/bin/env python3
"""Example for the `generic` agent profile: wrap any agent CLI that runs to completion.

    # hatchdoit.yaml
    agents: {factory: generic, qa: generic}
    agent_params:
      generic:
        command: ["python3", "{agents_dir}/examples/generic_agent.py", "--",
                  "my-agent", "--prompt-file", "{prompt_file}"]

It runs the wrapped command (everything after `--`, optional) in the worktree with the prompt on
stdin, then fulfils the rest of hatchdoit's contract the way any agent must:

- factory: the summary JSON at $HATCHDOIT_SUMMARY_FILE (if the wrapped CLI did not write one),
- qa: the verdict JSON at $HATCHDOIT_VERDICT_FILE (if the wrapped CLI did not write one): this
  example approves when the wrapped CLI exited 0 and rejects otherwise,
- and it "runs a command when it finishes": "$HATCHDOIT_STOP_HOOK" stop '<JSON payload>', whose
  fields (session_id, last_assistant_message, usage, ...) end up in the attempt's .stop file.

Exit code: the wrapped command's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def changed_files() -> list[str]:
    """Files touched in the worktree: uncommitted ones and those of the last commit."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    files = {line[3:] for line in status.splitlines() if len(line) > 3}
    last = subprocess.run(
        ["git", "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    files.update(line for line in last.splitlines() if line)
    return sorted(files)


def write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    prompt = sys.stdin.read()
    code = 0
    if command:
        code = subprocess.run(command, input=prompt, text=True, check=False).returncode
    env = os.environ
    tid, role = env["HATCHDOIT_TASKSPEC_ID"], env["HATCHDOIT_ROLE"]
    attempt = int(env["HATCHDOIT_ATTEMPT"])
    message = f"wrapped command exited {code}" if command else "no wrapped command"
    if role == "factory":
        summary = Path(env["HATCHDOIT_SUMMARY_FILE"])
        if not summary.exists():
            files = changed_files()
            write_json(
                summary,
                {
                    "taskspec_id": tid,
                    "agent_type": "factory",
                    "iteration": attempt,
                    "status": "completed" if code == 0 else "failed",
                    "implementation_files": files,
                    "test_results": {"passed": 0, "failed": 0},
                    "loc_analysis": {"actual": 0, "cap": int(env.get("HATCHDOIT_LOC_CAP", "0"))},
                    "next_steps": [],
                    "handover_notes": f"generic_agent.py: {message}",
                },
            )
    else:
        verdict = Path(env["HATCHDOIT_VERDICT_FILE"])
        if not verdict.exists():
            write_json(
                verdict,
                {
                    "taskspec_id": tid,
                    "attempt": attempt,
                    "verdict": "approved" if code == 0 else "rejected",
                    "reasons": [message],
                    "feedback": "" if code == 0 else "the wrapped reviewer failed",
                },
            )
    payload = {"session_id": f"generic-{tid}-{role}-{attempt}", "last_assistant_message": message}
    event = "stop" if code == 0 else "stop-failure"
    subprocess.run([env["HATCHDOIT_STOP_HOOK"], event, json.dumps(payload)], check=False)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
