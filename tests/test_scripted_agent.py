"""The bundled scripted agent, driven for real in a pty the way tmux drives it.

Prompts go in as bracketed paste followed by a separate Enter; the agent answers in a temp git
repo and signals each stop through a fake Stop hook that records its argv and stdin.
"""

from __future__ import annotations

import graphlib
import importlib.util
import json
import os
import pty
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
AGENT = ROOT / "agents" / "scripted" / "scripted_agent.py"
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


def load_agent_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scripted_agent", AGENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_prompt_reader_handles_split_markers_utf8_and_enter() -> None:
    reader = load_agent_module().PromptReader()
    data = "\x1b[200~é line1\rline2\r\nline3\x1b[201~".encode()
    assert reader.feed(b"\r") == []  # Enter with nothing typed is ignored
    events = [event for i in range(len(data)) for event in reader.feed(data[i : i + 1])]
    assert events == []
    assert reader.feed(b"\r") == ["é line1\nline2\nline3".encode()]
    assert reader.feed(b"typed\x1b!\n") == [b"typed!"]  # typed keys count, a lone ESC not
    assert reader.feed(b"\x03") == [None]


def test_ready_banner_and_submit_counter(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent()
    assert (agent.files / "ready").read_text() == "1"
    assert f"scripted agent factory {TASK_ID} attempt 1 behaviour succeed" in agent.transcript
    assert "\x1b[?2004h" in agent.transcript
    os.write(agent.master, b"\r")  # an empty Enter submits nothing
    agent.ask(request("implement", "No files this time."))
    assert agent.submitted() == "1"
    agent.ask(request("implement", "Still none."), stops=2)
    assert agent.submitted() == "2"
    assert "received prompt 2 (" in agent.transcript
    notes = (agent.repo / "hatchdoit_notes" / f"{TASK_ID}.md").read_text().splitlines()
    assert len(notes) == 2 and all("attempt 1" in line for line in notes)
    assert agent.proc.poll() is None  # stays open like a TUI


def test_succeed_writes_files_commits_summary_and_calls_stop_hook(
    start_agent: Callable[..., Agent], git_env: dict[str, str]
) -> None:
    agent = start_agent()
    body = file_block("src/pkg/mod.py", 'def hello() -> str:\n    return "héllo"\n') + file_block(
        "tests/test_mod.py", "import unittest\n"
    )
    payload = agent.ask(request("implement", body))
    assert (agent.repo / "src/pkg/mod.py").read_text().endswith('return "héllo"\n')
    assert git_out(agent.repo, git_env, "log", "-1", "--format=%an <%ae>|%s") == (
        f"scripted-agent <scripted@localhost>|scripted factory: {TASK_ID} attempt 1"
    )
    assert git_out(agent.repo, git_env, "status", "--porcelain") == ""
    summary = agent.json_file("summary.json")
    assert summary == {
        "taskspec_id": TASK_ID,
        "agent_type": "factory",
        "iteration": 1,
        "status": "completed",
        "implementation_files": ["src/pkg/mod.py", "tests/test_mod.py"],
        "test_results": {"passed": 0, "failed": 0},
        "loc_analysis": {"actual": 3, "cap": LOC_CAP},
        "next_steps": ["QA validation required"],
        "handover_notes": summary["handover_notes"],
    }
    argv, _ = agent.hook_calls()[0]
    assert argv == ["stop"]
    assert payload["hook_event_name"] == "Stop"
    assert payload["session_id"] == f"scripted-{RUN_TOKEN}"
    assert payload["stop_hook_active"] is False
    assert Path(payload["cwd"]).resolve() == agent.repo.resolve()
    assert payload["last_assistant_message"] and "\n" not in payload["last_assistant_message"]


def test_qa_feedback_is_reflected_in_handover_notes(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(attempt=2)
    feedback = "Add a docstring to each new public function.\nAnd more detail."
    agent.ask(request("implement", file_block("a.py", "x = 1\n"), feedback=feedback))
    summary = agent.json_file("summary.json")
    assert summary["iteration"] == 2
    assert summary["handover_notes"] == (
        "addressed QA feedback: Add a docstring to each new public function."
    )


def test_fail_tests_adds_a_failing_test_both_runners_find(
    start_agent: Callable[..., Agent], tmp_path: Path, git_env: dict[str, str]
) -> None:
    repo = make_repo(tmp_path / "seeded", git_env, seed=DEMO / "target")
    agent = start_agent(behaviour="fail-tests", repo=repo)
    agent.ask(request("implement", "Nothing but the failure."))
    assert agent.json_file("summary.json")["test_results"] == {"passed": 0, "failed": 1}
    assert (repo / "tests/test_zz_scripted_failure.py").exists()
    unit = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-q"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert unit.returncode != 0 and "scripted failure" in unit.stderr
    py = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert py.returncode == 1 and "1 failed, 1 passed" in py.stdout


def test_exceed_loc_writes_a_bulk_file(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="exceed-loc")
    agent.ask(request("implement", file_block("a.py", "x = 1\n")))
    assert len((agent.repo / "scripted_bulk.txt").read_text().splitlines()) == LOC_CAP + 50
    assert agent.json_file("summary.json")["loc_analysis"] == {
        "actual": LOC_CAP + 51,
        "cap": LOC_CAP,
    }


def test_skip_summary_writes_it_only_when_asked(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="skip-summary")
    agent.ask(request("implement", file_block("a.py", "x = 1\n")))
    assert not (agent.files / "summary.json").exists()
    agent.ask(request("summary"), stops=2)
    assert agent.submitted() == "2"
    summary = agent.json_file("summary.json")
    assert summary["implementation_files"] == ["a.py"] and summary["status"] == "completed"


def test_stop_hook_block_makes_the_agent_continue(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="skip-summary", HOOK_BLOCK_FIRST="write your summary now")
    agent.ask(request("implement", file_block("a.py", "x = 1\n")))
    second = agent.wait_for_stop(2)
    assert second["stop_hook_active"] is True
    assert agent.json_file("summary.json")["taskspec_id"] == TASK_ID
    assert agent.submitted() == "1"  # a hook continuation is not a submitted prompt


@pytest.mark.parametrize("behaviour", ["malformed-summary", "never-summary"])
def test_bad_summaries_stay_bad(start_agent: Callable[..., Agent], behaviour: str) -> None:
    agent = start_agent(behaviour=behaviour)
    summary = agent.files / "summary.json"
    for stops, kind in enumerate(["implement", "summary"], start=1):
        agent.ask(request(kind, file_block("a.py", "x = 1\n")), stops=stops)
        if behaviour == "never-summary":
            assert not summary.exists()
        else:
            assert summary.read_text() == f'{{"taskspec_id": "{TASK_ID}", "status": '


def test_crash_exits_3_without_stop_hook(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="crash")
    agent.paste(request("implement", file_block("a.py", "x = 1\n")))
    assert agent.proc.wait(timeout=TIMEOUT) == 3
    assert agent.submitted() == "1"
    wait_until(lambda: "crashing" in agent.transcript, "crash message")
    assert agent.hook_calls() == []
    assert not (agent.repo / "a.py").exists()


def test_hang_goes_quiet_without_stop_hook(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent(behaviour="hang")
    agent.paste(request("implement"))
    wait_until(lambda: agent.submitted() == "1", "submitted 1")
    with pytest.raises(AssertionError):  # a negative: nothing may happen within a short window
        wait_until(lambda: bool(agent.hook_calls()) or agent.proc.poll() is not None, "", 0.5)


CHECKS_OK = {"passed": True, "failures": []}
CHECKS_BAD = {"passed": False, "failures": ["tests failed (exit 1)", "LOC 90 over cap 40"]}


@pytest.mark.parametrize(
    ("behaviour", "attempt", "checks", "verdict", "reasons"),
    [
        ("approve", 1, CHECKS_OK, "approved", []),
        ("approve", 1, CHECKS_BAD, "rejected", CHECKS_BAD["failures"]),
        ("reject", 2, CHECKS_OK, "rejected", ["scripted QA rejects every attempt"]),
        ("reject-once", 1, CHECKS_OK, "rejected", [DOCSTRING_REASON]),
        ("reject-once", 2, CHECKS_OK, "approved", []),
        ("reject-once", 2, CHECKS_BAD, "rejected", CHECKS_BAD["failures"]),
    ],
)
def test_qa_verdicts(
    start_agent: Callable[..., Agent],
    behaviour: str,
    attempt: int,
    checks: dict[str, Any],
    verdict: str,
    reasons: list[str],
) -> None:
    agent = start_agent(role="qa", behaviour=behaviour, attempt=attempt)
    (agent.files / "checks.json").write_text(json.dumps(checks))
    payload = agent.ask(request("review", "Review the change."))
    record = agent.json_file("verdict.json")
    assert record["taskspec_id"] == TASK_ID and record["attempt"] == attempt
    assert (record["verdict"], record["reasons"]) == (verdict, reasons)
    if (behaviour, attempt) == ("reject-once", 1):
        assert record["feedback"] == "Add a docstring to each new public function."
    assert payload["session_id"] == f"scripted-{RUN_TOKEN}"


def test_unsafe_file_block_paths_are_refused(
    start_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    agent = start_agent()
    evil = tmp_path / "absolute.py"
    body = "".join(
        file_block(p, "boom = 1\n")
        for p in [
            "../escape.py",
            str(evil),
            ".git/hooks/post-commit",
            "src/../../up.py",
            "ok/fine.txt",
        ]
    )
    agent.ask(request("implement", body))
    assert (agent.repo / "ok/fine.txt").read_text() == "boom = 1\n"
    assert not (tmp_path / "escape.py").exists() and not evil.exists()
    assert not (agent.repo / ".git/hooks/post-commit").exists()
    assert agent.transcript.count("refusing to write") == 4
    assert agent.json_file("summary.json")["implementation_files"] == ["ok/fine.txt"]


def test_outputs_validate_against_orchestrator_records(
    start_agent: Callable[..., Agent],
) -> None:
    records = pytest.importorskip("hatchdoit.records")
    factory = start_agent()
    factory.ask(request("implement", file_block("a.py", "x = 1\n")))
    records.SummaryRecord.model_validate(factory.json_file("summary.json"))
    qa = start_agent(role="qa", behaviour="reject-once")
    (qa.files / "checks.json").write_text(json.dumps(CHECKS_OK))
    qa.ask(request("review"))
    records.VerdictRecord.model_validate(qa.json_file("verdict.json"))


def load_demo_specs() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """FeatSpecs and TaskSpecs of the demo planning repo: front matter plus `body`."""
    found: dict[str, dict[str, dict[str, Any]]] = {"featspec": {}, "taskspec": {}}
    for path in sorted((DEMO / "planning" / "_specs").rglob("*.md")):
        _, front, body = path.read_text(encoding="utf-8").split("---\n", 2)
        data = yaml.safe_load(front)
        assert path.stem == data["id"], path
        found[data["kind"]][data["id"]] = {**data, "body": body}
    return found["featspec"], found["taskspec"]


def test_demo_plan_shape() -> None:
    featspecs, taskspecs = load_demo_specs()
    assert len(featspecs) == 2 and len(taskspecs) == 5
    for spec in taskspecs.values():
        assert spec["featspec"] in featspecs
        assert set(spec["depends_on"]) <= set(taskspecs)
        assert shlex.split(spec["test_command"]) == [
            "python3",
            "-m",
            "unittest",
            "discover",
            "-s",
            "tests",
            "-q",
        ]
    assert [s["id"] for s in taskspecs.values() if s.get("scripted", {}).get("qa") == "reject-once"]
    assert any(spec["depends_on"] for spec in taskspecs.values())
    planning = pytest.importorskip("hatchdoit.planning")
    plan = planning.load_plan(DEMO / "planning")
    assert plan.errors == [] and set(plan.taskspecs) == set(taskspecs)


def test_demo_taskspecs_build_in_dependency_order(
    start_agent: Callable[..., Agent], tmp_path: Path, git_env: dict[str, str]
) -> None:
    _, taskspecs = load_demo_specs()
    repo = make_repo(tmp_path / "textkit", git_env, seed=DEMO / "target")
    argv = [
        sys.executable if a == "python3" else a
        for a in shlex.split(next(iter(taskspecs.values()))["test_command"])
    ]
    assert subprocess.run(argv, cwd=repo, capture_output=True).returncode == 0
    order = graphlib.TopologicalSorter({k: v["depends_on"] for k, v in taskspecs.items()})
    for taskspec_id in order.static_order():
        spec = taskspecs[taskspec_id]
        before = git_out(repo, git_env, "rev-parse", "HEAD")
        agent = start_agent(repo=repo, taskspec_id=taskspec_id, loc_cap=spec["loc_cap"])
        agent.ask(spec["body"] + "\n<!-- hatchdoit:request=implement -->\n")
        os.killpg(agent.proc.pid, signal.SIGTERM)
        agent.proc.wait(timeout=TIMEOUT)
        numstat = git_out(repo, git_env, "diff", "--numstat", before, "HEAD").splitlines()
        added = sum(int(line.split()[0]) for line in numstat)
        assert 0 < added < spec["loc_cap"], (taskspec_id, added)
        tests = subprocess.run(argv, cwd=repo, capture_output=True, text=True)
        assert tests.returncode == 0, (taskspec_id, tests.stderr)
        for dep in spec["depends_on"]:  # dependent code really imports its dependency
            module = taskspecs[dep]["body"].split("```file:src/textkit/")[1].split(".py")[0]
            assert f"from textkit.{module} import" in spec["body"], (taskspec_id, dep)
    assert "Ran 23 tests" in tests.stderr
    assert git_out(repo, git_env, "status", "--porcelain") == ""
