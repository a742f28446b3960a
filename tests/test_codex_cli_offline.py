"""The real Codex CLI (pinned by tests/codex_cli.py), fully offline against tests/fake_openai.py:
bare `codex exec --json` in a temp git repo, and hatchdoit's `codex` profile as factory and QA.
These tests skip only when node/npm are missing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runs import run_cli
from codex_cli import FAKE_KEY, codex_env, codex_home, pinned_codex, use_codex_cli
from conftest import events, git, run_doit
from fake_openai import FakeOpenAI
from projects import IDENTITY, HatchProject, module_body

from hatchdoit.observe.agent_usage import stop_usage
from hatchdoit.records.models import DoneRecord, StopRecord, SummaryRecord, VerdictRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration

TID = "T001-CODEX-CLI"


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    return pinned_codex()


@pytest.fixture
def fake_api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(max_requests=200, lifetime=240) as fake:
        yield fake


def test_codex_exec_edits_a_repo_and_completes_the_turn(
    tmp_path: Path, fake_api: FakeOpenAI, codex_bin: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    out = tmp_path / "out"
    out.mkdir()
    prompt = (
        "# TaskSpec T9: hello\nYou are the factory agent. Attempt 1 of 1.\n"
        f"When you are done, write your implementation summary as JSON to\n  `{out}/s.json`.\n\n"
        "```file:src/hello.py\nprint('hello')\n```\n"
    )
    env = {**codex_env(tmp_path / "home", codex_home(tmp_path / "codex", fake_api)), **IDENTITY}
    argv = [str(codex_bin), "exec", "--json", "--sandbox", "workspace-write"]
    argv += ["-c", f'sandbox_workspace_write.writable_roots=["{out}"]', "-"]
    run = run_cli(argv, cwd=repo, env=env, prompt=prompt, timeout=90)

    assert run.exit_code == 0, run.stderr
    assert (repo / "src" / "hello.py").read_text() == "print('hello')\n"
    assert json.loads((out / "s.json").read_text())["taskspec_id"] == "T9"
    kinds = run.kinds()
    assert kinds[0] == "thread.started" and kinds[-1] == "turn.completed", kinds
    items = [e["item"] for e in run.of("item.completed")]
    commands = [i for i in items if i["type"] == "command_execution"]
    assert [c["exit_code"] for c in commands] == [0, 0], commands  # the two files
    # workspace-write keeps .git read-only: the model's `git commit` fails, and no item tells
    # (hatchdoit commits what a factory leaves uncommitted)
    assert "Read-only file system" in fake_api.seen[2].tool_output
    assert [i["text"] for i in items if i["type"] == "agent_message"] == ["Done (factory)."]
    usage = run.of("turn.completed")[0]["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    # every request was the Responses API, with the fake key; nothing else was asked
    assert {(s.kind, s.stream) for s in fake_api.seen} == {("responses", True)}
    assert {s.authorization for s in fake_api.seen} == {f"Bearer {FAKE_KEY}"}
    assert [s.tool for s in fake_api.seen] == ["Write", "Bash", "Write", ""]


def stop_of(project: HatchProject, role: str) -> StopRecord:
    return load_valid(project.layout.stop_file(TID, role, 1), StopRecord)  # type: ignore[arg-type]


def test_codex_profile_takes_a_taskspec_to_done(
    project: HatchProject, fake_api: FakeOpenAI, codex_bin: Path
) -> None:
    use_codex_cli(project, fake_api, codex_bin)
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    done = run_doit(project, timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr

    layout = project.layout
    assert load_valid(layout.done(TID), DoneRecord).attempt == 1
    summary = load_valid(layout.summary(TID, 1), SummaryRecord)
    assert summary.taskspec_id == TID and "src/app/greet.py" in summary.implementation_files
    verdict = load_valid(layout.verdict(TID, 1), VerdictRecord)
    assert verdict.verdict == "approved" and verdict.attempt == 1
    for role in ("factory", "qa"):
        stop = stop_of(project, role)
        assert stop.source == "hook" and stop.event == "stop", stop
        payload = stop.payload
        assert payload["last_assistant_message"] == f"Done ({role})."
        assert payload["num_turns"] == 1 and payload["exit_code"] == 0
        # notify (agent-turn-complete) is fired and forgotten by the real CLI: its note reaches
        # the .stop only when it is faster than the CLI's exit, so it is not asserted here
        if "thread-id" in payload:
            assert payload["thread-id"] == payload["session_id"]
        tokens, _ = stop_usage(stop)
        assert tokens.get("input", 0) > 0 and tokens.get("output", 0) > 0, payload
        stream = Path(payload["stream_log"]).read_text().splitlines()
        assert json.loads(stream[0])["type"] == "thread.started"
        assert json.loads(stream[0])["thread_id"] == payload["session_id"]
        assert json.loads(stream[-1])["type"] == "turn.completed"
        assert fake_api.responses(role), f"no {role} request reached the stand-in"
    # the real CLI's sandbox refused the factory's `git commit`; hatchdoit committed its work
    assert events(project, "launch", role="qa")
    log = git(layout.worktree(TID), "log", "--format=%s", "--name-only")
    assert "src/app/greet.py" in log
    assert not (Path(project.env["HOME"]) / ".codex").exists()
