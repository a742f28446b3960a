"""What an agent session and a test command get of the build's environment, and what every
local user could read of it: no credential is ever on a process's command line (a scan of
/proc/*/cmdline for the whole build), the agent gets exactly hatchdoit's environment (the
credential its profile passes, not the stale one of a tmux server started earlier by another
build), and a TaskSpec's test command runs with a scrubbed environment. Real doit, tmux, git and
the scripted agent, behind a profile of the project's own that records its environment."""

from __future__ import annotations

import dataclasses
import json
import secrets
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import run_doit
from projects import HatchProject

pytestmark = pytest.mark.integration

TID = "T-ENV-1"
# The bundled scripted agent, started by a wrapper that first writes its environment to the run's
# own folder ({run_dir}): code on argv, values in the file.
RECORD_ENV = (
    "import json, os, sys; "
    "os.makedirs(sys.argv[1], exist_ok=True); "
    "open(os.path.join(sys.argv[1], 'agent-env.json'), 'w').write(json.dumps(dict(os.environ))); "
    "os.execv(sys.executable, [sys.executable, '-S', sys.argv[2], *sys.argv[3:]])"
)
PROFILE = f"""name: recording
description: the scripted agent, recording the environment it was started with
argv: ["{{python}}", "-S", "-c", {json.dumps(RECORD_ENV)}, "{{run_dir}}",
       "{{bundled}}", "--role", "{{role}}"]
env_passthrough: ["ANTHROPIC_*"]
prompt_delivery: paste
stop_signal: hook
readiness: {{kind: marker}}
submit_confirm: marker
interactive: true
"""
TEST_COMMAND = [
    "python3",
    "-c",
    "import os; print('TEST-ENV', sorted(os.environ)); "
    "import unittest, sys; sys.argv = ['x', 'discover', '-s', 'tests', '-q']; unittest.main(None)",
]


def scan_cmdlines(marks: list[str], stop: threading.Event, found: list[str]) -> None:
    """Read every process's command line until `stop`; keep any that holds a mark."""
    while not stop.is_set():
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(mark in text for mark in marks):
                found.append(f"{cmdline.parent.name}: {text}")


def test_credentials_stay_off_argv_and_sessions_get_hatchdoits_environment(
    project: HatchProject,
) -> None:
    right = f"sk-right-{secrets.token_hex(8)}"
    stale = f"sk-stale-{secrets.token_hex(8)}"
    marker = f"mk-{secrets.token_hex(8)}"
    bundled = Path(__file__).resolve().parent.parent / "hatchdoit/resources/agents/scripted"
    agents = project.root / "agents"
    agents.mkdir()
    profile = PROFILE.replace("{bundled}", str(bundled / "scripted_agent.py"))
    (agents / "recording.yaml").write_text(profile)
    project.configure(
        agents={"factory": "recording", "qa": "scripted"},
        checks={"env_passthrough": ["HD_PASS_ME"]},
    )
    project.add_taskspec(TID, test_command=TEST_COMMAND)
    # A tmux server on the project's socket, started earlier by "another build" with a stale key
    # in its global environment (which every new session would inherit).
    started = project.tmux("-f", "/dev/null", "new-session", "-d", "-s", "earlier", "sleep 600")
    assert started.returncode == 0, started.stderr
    project.tmux("set-environment", "-g", "ANTHROPIC_API_KEY", stale)
    project.tmux("set-environment", "-g", "HD_SERVER_ONLY", "1")

    env = project.env | {
        "ANTHROPIC_API_KEY": right,
        "HD_MARKER_API_KEY": marker,
        "HD_PASS_ME": "passed",
        "HD_PLAIN": "plain",
    }
    probe = f"probe-{secrets.token_hex(8)}"  # the scanner sees a command line that has one
    stop: threading.Event = threading.Event()
    found: list[str] = []
    scanner = threading.Thread(
        target=scan_cmdlines, args=([right, marker, stale, probe], stop, found)
    )
    scanner.start()
    try:
        subprocess.run(["sh", "-c", f": {probe}; sleep 0.5"], check=True)
        built = run_doit(dataclasses.replace(project, env=env))
    finally:
        stop.set()
        scanner.join()
    assert built.returncode == 0, built.stdout + built.stderr
    assert found and all(probe in line for line in found), found

    seen = json.loads(
        (project.layout.session_dir(TID, "factory", 1) / "agent-env.json").read_text()
    )
    assert seen["ANTHROPIC_API_KEY"] == right  # passed by its profile, not the server's
    assert "HD_SERVER_ONLY" not in seen  # nothing of the tmux server's environment
    assert "HD_MARKER_API_KEY" not in seen  # a credential no profile asked for
    assert seen["HD_PLAIN"] == "plain" and seen["HATCHDOIT_TASKSPEC_ID"] == TID
    assert not (project.layout.session_dir(TID, "factory", 1) / "session.env").exists()

    tests = project.layout.checks_log(TID, 1).read_text()
    names = tests.split("TEST-ENV ", 1)[1].splitlines()[0]
    assert "'PATH'" in names and "'HD_PASS_ME'" in names  # basics and checks.env_passthrough
    for hidden in ("ANTHROPIC_API_KEY", "HD_MARKER_API_KEY", "HD_PLAIN", "HATCHDOIT_"):
        assert hidden not in names, (hidden, names)
