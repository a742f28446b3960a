"""The real Claude Code CLI, headless and its TUI in tmux, confined, against the local API
stand-in (reached through the sandbox's proxy: its 127.0.0.1 base URL is the one host allowed),
takes a TaskSpec to done; confined, its permission prompts are skipped by default."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from claude_code_cli import pinned_claude_code, use_claude
from confinement_support import need_srt
from conftest import read_audit, run_doit
from fake_anthropic import FakeAnthropic
from projects import HatchProject, module_body

from hatchdoit.confinement.srt import SRT_ENV
from hatchdoit.records.models import DoneRecord, StopRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration
TID = "T001-CLAUDE"


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(max_requests=300, lifetime=240) as fake:
        yield fake


@pytest.mark.parametrize("profile", ["claude-code-headless", "claude-code"])
def test_confined_claude_code_takes_a_taskspec_to_done(
    project: HatchProject, fake_api: FakeAnthropic, profile: str
) -> None:
    srt = need_srt()
    use_claude(project, fake_api, pinned_claude_code(), profile, params={})
    project.env.pop("IS_SANDBOX", None)  # confinement sets it inside the sandbox
    project.env[SRT_ENV] = str(srt)
    project.configure(confinement={"mode": "required"})
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    done = run_doit(project, timeout=180)
    assert done.returncode == 0, f"doit failed:\n{done.stdout}\n{done.stderr}"
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    launches = [e for e in read_audit(project) if e["event"] == "launch"]
    assert [e["confinement"] for e in launches] == ["confined", "confined"]
    for role in ("factory", "qa"):
        assert fake_api.main_requests(role), f"no {role} request reached the stand-in"
        if profile == "claude-code":  # the TUI says so in its status line
            screen = project.layout.screen_capture(TID, role, 1)  # type: ignore[arg-type]
            assert "bypass permissions on" in screen.read_text(encoding="utf-8")
            continue
        stop = load_valid(project.layout.stop_file(TID, role, 1), StopRecord)  # type: ignore[arg-type]
        stream = Path(stop.payload["stream_log"]).read_text(encoding="utf-8").splitlines()
        init = next(json.loads(x) for x in stream if '"init"' in x)
        assert init["permissionMode"] == "bypassPermissions", init
