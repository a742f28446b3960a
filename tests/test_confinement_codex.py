"""The real Codex CLI, confined, against the local Responses API stand-in (its config.toml's
base URL is allowed through the sandbox's proxy; its CODEX_HOME is writable): a TaskSpec reaches
done, with Codex's own sandbox off because hatchdoit's is on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from codex_cli import pinned_codex, use_codex_cli
from confinement_support import need_srt
from conftest import read_audit, run_doit
from fake_openai import FakeOpenAI
from projects import HatchProject, module_body

from hatchdoit.confinement.srt import SRT_ENV
from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration
TID = "T001-CODEX-CONFINED"


@pytest.fixture
def fake_api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(max_requests=200, lifetime=240) as fake:
        yield fake


def test_confined_codex_takes_a_taskspec_to_done(
    project: HatchProject, fake_api: FakeOpenAI
) -> None:
    project.env[SRT_ENV] = str(need_srt())
    use_codex_cli(project, fake_api, pinned_codex())
    project.configure(confinement={"mode": "required"})
    project.add_taskspec(TID, body=module_body("greet", "greet", "hello"))
    done = run_doit(project, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    launches = [e for e in read_audit(project) if e["event"] == "launch"]
    assert [e["confinement"] for e in launches] == ["confined", "confined"]
    for role in ("factory", "qa"):
        assert fake_api.responses(role), f"no {role} request reached the stand-in"
