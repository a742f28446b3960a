"""A hostile agent CLI for the `generic` profile (wrapped by agents/examples/generic_agent.py):
as factory it runs escape_attempts.py's attempts itself, keeps their results in its worktree
(committed: a leaked secret would be in the commit), and leaves that same file as its test code
with the targets it needs (`escape_check.py`, `escape_targets.json`); as QA it does nothing.

    python3 tests/hostile_agent.py          (targets in HOSTILE_* variables)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from escape_attempts import attempts  # noqa: E402


def main() -> int:
    prompt = sys.stdin.read()
    if "You are the factory agent" not in prompt:
        return 0
    env = os.environ
    targets = {
        "home": env["HOME"],
        "logs": env["HATCHDOIT_LOGS_DIR"],
        "tid": env["HATCHDOIT_TASKSPEC_ID"],
        "port": env["HOSTILE_PORT"],
        "ssh_auth_sock": env.get("SSH_AUTH_SOCK", ""),
        "tmux_socket": env["HOSTILE_TMUX_SOCKET"],
        "other": env["HOSTILE_OTHER"],
        "victim": env["HOSTILE_VICTIM"],
        "wreck": env.get("HOSTILE_WRECK", ""),
    }
    Path("escape_targets.json").write_text(json.dumps(targets), encoding="utf-8")
    shutil.copyfile(HERE / "escape_attempts.py", "escape_check.py")
    results = attempts(targets, "agent")
    Path("agent_attempts.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    subprocess.run(["git", "add", "-A"], check=False)
    subprocess.run(["git", "commit", "-q", "-m", "hostile agent"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
