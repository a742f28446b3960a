"""The real Claude Code CLI (headless and its TUI) and the real Codex CLI, confined, take a
TaskSpec to done with a factory that runs the TaskSpec's test command itself through its shell
tool (Claude Code's Bash, Codex's exec tool), as a real factory makes its tests pass.

Evidence that the run happened, and happened inside the sandbox: the test code prints a token of
this test and what it got reading an SSH key planted in the project's HOME and writing HOME; the
stand-in sees that output in the tool result the CLI sends back (so the CLI ran the command and
the test code ran), the key read and the HOME write were refused, and the key is in no request
the stand-in saw."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from claude_code_cli import pinned_claude_code, use_claude
from codex_cli import pinned_codex, use_codex_cli
from confinement_support import need_srt
from conftest import read_audit, run_doit
from fake_anthropic import FakeAnthropic
from fake_openai import FakeOpenAI
from projects import HatchProject, module_body

from hatchdoit.confinement.srt import SRT_ENV
from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration
TID = "T001-FACTORY-TESTS"


def _probe_body(token: str, home: Path) -> str:
    """module_body with a marker that makes the stand-in's factory run the test command, and a
    test that reports what the sandbox let it do."""
    probe = f"""
```file:tests/test_probe.py
import unittest
from pathlib import Path


def attempt(work):
    try:
        return "ESCAPED " + str(work())
    except Exception as exc:  # the refusal is the answer
        return "blocked " + type(exc).__name__


class ProbeTest(unittest.TestCase):
    def test_probe(self) -> None:
        key = attempt(lambda: Path("{home}/.ssh/id_ed25519").read_text().strip())
        home = attempt(lambda: Path("{home}/pwned-by-tests.txt").write_text("x"))
        print("probe {token} ssh-key=" + key + " write-home=" + home, flush=True)
```
"""
    return module_body("greet", "greet", "hello", note="fake-api: run-tests") + probe


def _plant_key(project: HatchProject) -> tuple[str, Path]:
    secret = f"hatchdoit-secret-{uuid.uuid4().hex}"
    home = Path(project.env["HOME"])
    (home / ".ssh").mkdir(mode=0o700)
    (home / ".ssh" / "id_ed25519").write_text(secret + "\n", encoding="utf-8")
    return secret, home


def _build(
    project: HatchProject, configure: Callable[[], None], mode: str = "required"
) -> tuple[str, str]:
    """Build the probing TaskSpec under `confinement: mode`; (the test's token, the secret)."""
    secret, home = _plant_key(project)
    project.env[SRT_ENV] = str(need_srt())
    configure()
    project.configure(confinement={"mode": mode})
    token = f"tok-{uuid.uuid4().hex[:12]}"
    project.add_taskspec(TID, body=_probe_body(token, home))
    done = run_doit(project, timeout=180)
    assert done.returncode == 0, f"doit failed:\n{done.stdout}\n{done.stderr}"
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
    launches = [e for e in read_audit(project) if e["event"] == "launch"]
    assert [e["confinement"] for e in launches] == ["confined" if mode != "off" else "off"] * 2
    if mode != "off":
        assert not list(home.glob("pwned*")), "the test code wrote HOME"
    return token, secret


def _check_tool_output(outputs: list[str], token: str, secret: str) -> None:
    """One tool result the CLI sent back holds the probe's line: the factory ran the tests,
    confined."""
    ran = [o for o in outputs if f"probe {token}" in o]
    assert ran, f"no tool result carried the test output: {outputs}"
    line = next(x for x in ran[0].splitlines() if f"probe {token}" in x)
    assert "ssh-key=blocked" in line and "write-home=blocked" in line, line
    assert re.search(r"^Ran \d+ tests", ran[0], re.MULTILINE) and "\nOK" in ran[0], ran[0]
    assert not any(secret in o for o in outputs)


@pytest.mark.parametrize("profile", ["claude-code-headless", "claude-code"])
def test_confined_claude_code_factory_runs_the_tests_itself(
    project: HatchProject, profile: str
) -> None:
    with FakeAnthropic(max_requests=300, lifetime=240) as fake:

        def configure() -> None:
            use_claude(project, fake, pinned_claude_code(), profile, params={})
            project.env.pop("IS_SANDBOX", None)  # confinement sets it inside the sandbox

        token, secret = _build(project, configure)
        factory = fake.main_requests("factory")
    assert "Bash" in [s.tool for s in factory]
    _check_tool_output([s.tool_output for s in factory], token, secret)
    assert not any(secret in "".join(s.asked) for s in factory)


def test_confined_codex_factory_runs_the_tests_itself(project: HatchProject) -> None:
    with FakeOpenAI(max_requests=200, lifetime=240) as fake:
        token, secret = _build(project, lambda: use_codex_cli(project, fake, pinned_codex()))
        factory = fake.responses("factory")
    _check_tool_output([s.tool_output for s in factory], token, secret)


def test_unconfined_the_same_factory_reads_the_key(project: HatchProject) -> None:
    """The control: with `confinement: off` (and permissions skipped, the only way a Claude Code
    factory runs its tests unconfined) the probe reads the key, so the tests above can fail."""
    with FakeAnthropic(max_requests=300, lifetime=240) as fake:

        def configure() -> None:
            use_claude(project, fake, pinned_claude_code(), "claude-code-headless")

        token, secret = _build(project, configure, mode="off")
        factory = fake.main_requests("factory")
    line = next(x for s in factory for x in s.tool_output.splitlines() if f"probe {token}" in x)
    assert f"ssh-key=ESCAPED {secret}" in line and "write-home=ESCAPED" in line, line
