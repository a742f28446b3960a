"""Shared by the scripted agent's tests (test_scripted_agent_*.py): the bundled scripted agent
started for real on a pty, the way tmux drives it. Prompts go in as bracketed paste followed by a
separate Enter; the agent answers in a temp git repo and signals each stop through a fake Stop
hook that records its argv and stdin.

The fixtures (`start_agent`, `git_env`) are imported by the test modules that use them.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hatchdoit.core.bundled import AGENTS as BUNDLED_AGENTS

ROOT = Path(__file__).resolve().parents[1]
AGENT = BUNDLED_AGENTS / "scripted" / "scripted_agent.py"
DEMO = ROOT / "demo"
TASK_ID = "001-TS-2025-01-01-TEST"
RUN_TOKEN = "tok-123"
LOC_CAP = 40
TIMEOUT = 15.0
DOCSTRING_REASON = "scripted QA: the change needs a docstring on each new public function"

MARKERS = {
    "READY_FILE": "ready",
    "SUBMITTED_FILE": "submitted",
    "STOP_FILE": "agent.stop",
    "SUMMARY_FILE": "summary.json",
    "VERDICT_FILE": "verdict.json",
    "CHECKS_FILE": "checks.json",
}
STOP_HOOK = """#!/usr/bin/env bash
set -euo pipefail
n=$(find "$HOOK_OUT" -maxdepth 1 -name 'call-*.txt' | wc -l)
n=$((n + 1))
{ printf '%s\\n' "$*"; cat; } > "$HOOK_OUT/.call-$n.tmp"
mv "$HOOK_OUT/.call-$n.tmp" "$HOOK_OUT/call-$n.txt"
if [ -n "${HOOK_BLOCK_FIRST:-}" ] && [ "$n" = 1 ]; then
  printf '{"decision": "block", "reason": "%s"}\\n' "$HOOK_BLOCK_FIRST"
fi
"""


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll `predicate` until true or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def request(kind: str, body: str = "", feedback: str | None = None) -> str:
    """A prompt as the orchestrator would write it: text plus one machine line."""
    parts = [f"# TaskSpec {TASK_ID}", "", body]
    if feedback is not None:
        parts += ["", "## QA feedback from attempt 1", "", feedback, "", "## Rules", "Be brief."]
    parts += ["", f"<!-- hatchdoit:request={kind} -->", ""]
    return "\n".join(parts)


def file_block(path: str, content: str) -> str:
    return f"```file:{path}\n{content}```\n"


@dataclass
class Agent:
    """A running scripted agent on a pty, with its transcript and marker files."""

    proc: subprocess.Popen[bytes]
    master: int
    files: Path
    repo: Path
    output: bytearray = field(default_factory=bytearray)
    reader: threading.Thread | None = None

    def start_reading(self) -> None:
        def pump() -> None:
            while True:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                self.output += chunk

        self.reader = threading.Thread(target=pump, daemon=True)
        self.reader.start()

    @property
    def transcript(self) -> str:
        return bytes(self.output).decode("utf-8", errors="replace")

    def paste(self, text: str) -> None:
        """Send like tmux: bracketed paste with newlines as CR, then Enter separately."""
        body = text.replace("\n", "\r").encode("utf-8")
        os.write(self.master, b"\x1b[200~" + body + b"\x1b[201~")
        os.write(self.master, b"\r")

    def submitted(self) -> str:
        path = self.files / "submitted"
        return path.read_text() if path.exists() else ""

    def hook_calls(self) -> list[tuple[list[str], dict[str, Any]]]:
        calls = []
        for n in range(1, 100):
            path = self.files / "hook" / f"call-{n}.txt"
            if not path.exists():
                break
            argv, _, stdin = path.read_text().partition("\n")
            calls.append((argv.split(), json.loads(stdin)))
        return calls

    def wait_for_stop(self, count: int = 1) -> dict[str, Any]:
        wait_until(lambda: len(self.hook_calls()) >= count, f"stop hook call {count}\n{self}")
        return self.hook_calls()[count - 1][1]

    def ask(self, text: str, stops: int = 1) -> dict[str, Any]:
        """Submit one prompt and wait for the stop it causes."""
        expected = str(int(self.submitted() or 0) + 1)
        self.paste(text)
        wait_until(lambda: self.submitted() == expected, f"submitted {expected}\n{self}")
        return self.wait_for_stop(stops)

    def json_file(self, name: str) -> Any:
        return json.loads((self.files / name).read_text())

    def __str__(self) -> str:
        return f"--- agent transcript ---\n{self.transcript}"


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """An environment where git sees no user or system config and no identity."""
    config = tmp_path / "gitconfig"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "HATCHDOIT_"))}
    env.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1")
    return env


def make_repo(path: Path, env: dict[str, str], seed: Path | None = None) -> Path:
    """A git repo with one commit (of `seed`'s files, or a README)."""
    if seed is not None:
        shutil.copytree(seed, path)
    else:
        path.mkdir()
        (path / "README.md").write_text("seed\n")
    ident = {
        **env,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "seed"]):
        subprocess.run(["git", *argv], cwd=path, env=ident, check=True)
    return path


def git_out(repo: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def start_agent(tmp_path: Path, git_env: dict[str, str]) -> Iterator[Callable[..., Agent]]:
    """Start scripted agents on ptys; all are killed at teardown."""
    started: list[Agent] = []

    def start(
        role: str = "factory",
        behaviour: str = "succeed",
        attempt: int = 1,
        repo: Path | None = None,
        taskspec_id: str = TASK_ID,
        loc_cap: int = LOC_CAP,
        **extra: str,
    ) -> Agent:
        repo = repo or make_repo(tmp_path / f"repo-{len(started)}", git_env)
        files = tmp_path / f"files-{len(started)}"
        (files / "hook").mkdir(parents=True)
        hook = files / "stop_hook.sh"
        hook.write_text(STOP_HOOK)
        hook.chmod(0o755)
        env = {
            **git_env,
            **extra,
            "HOOK_OUT": str(files / "hook"),
            "HATCHDOIT_TASKSPEC_ID": taskspec_id,
            "HATCHDOIT_ROLE": role,
            "HATCHDOIT_ATTEMPT": str(attempt),
            "HATCHDOIT_RUN_TOKEN": RUN_TOKEN,
            "HATCHDOIT_STOP_HOOK": str(hook),
            "HATCHDOIT_BEHAVIOUR": behaviour,
            "HATCHDOIT_LOC_CAP": str(loc_cap),
        }
        env.update({f"HATCHDOIT_{name}": str(files / leaf) for name, leaf in MARKERS.items()})
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, str(AGENT), "--role", role],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=repo,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        agent = Agent(proc=proc, master=master, files=files, repo=repo)
        agent.start_reading()
        started.append(agent)
        wait_until(lambda: (files / "ready").exists(), f"ready file\n{agent}")
        return agent

    yield start
    for agent in started:
        if agent.proc.poll() is None:
            os.killpg(agent.proc.pid, signal.SIGKILL)
        agent.proc.wait()
        os.close(agent.master)
