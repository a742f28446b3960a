"""Injection safety in every agent profile but the scripted one (that one, and the scripts:
test_injection.py).

Each hostile text of hostile_text.py but the file blocks (those test what the scripted agent
writes, not what it receives) is the body of one TaskSpec, with a hostile title; every profile
builds all of them in one `doit` run, and what its agent received is recorded:

- codex: the fake `codex` of fake_codex.py saves the bytes it read on stdin;
- generic: agents/examples/generic_agent.py wraps the fake CLI of fake_generic_cli.py, which saves
  the bytes it read on stdin and those of the {prompt_file} it was given;
- claude-code-headless, claude-code: the pinned Claude Code CLI (claude_code_cli.py) against the
  local Messages API of fake_anthropic.py, which keeps the first user message of every request.
  The interactive profile pastes the prompt, or a pointer to the prompt file when pasting would
  change it (hatchdoit.steps.handover.paste_safe); the fake model then reads that file with the
  CLI's Read tool, as a model would.

The prompt file holds the TaskSpec's body and title byte for byte, so "the agent received the
prompt file (or the pointer) verbatim" proves the body reached it, tmux formats unexpanded; every
TaskSpec must reach done; no PWNED* file may appear anywhere.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from claude_code_cli import pinned_claude_code, use_claude
from conftest import assert_logs_parse, run_doit, tree_hashes
from fake_anthropic import FakeAnthropic
from fake_codex import use_codex, write_fake_codex
from fake_generic_cli import generic_command
from hostile_text import BODIES, POINTER_EXPECTED, hostile_title, pwned_files
from projects import HatchProject, make_project, module_body

from hatchdoit.planning.plan import load_plan
from hatchdoit.records.models import DoneRecord, VerdictRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration

PROFILES = ["codex", "generic", "claude-code-headless", "claude-code"]
CASES = {tid: body for tid, body in BODIES.items() if tid != "INJ-FILES"}
ROLES = ("factory", "qa")


@dataclass
class Built:
    """One profile's build of every CASES TaskSpec, and what its agents received."""

    profile: str
    project: HatchProject
    base: Path
    done: subprocess.CompletedProcess[str]
    planning_before: dict[str, str]
    record: Path  # codex and generic: one file per TaskSpec, role and attempt
    asked: list[bytes]  # claude-code*: the text blocks of every request's first user message

    def received(self, tid: str, role: str) -> list[bytes]:
        """What the agent of (tid, role, attempt 1) was given as its prompt (for Claude Code:
        every text block the CLI sent, of all its sessions)."""
        if self.profile == "codex":
            return [(self.record / f"{tid}-{role}-1.md").read_bytes()]
        if self.profile == "generic":  # its stdin, and the {prompt_file} it was named
            named = Path((self.record / f"{tid}-{role}-1.path").read_text(encoding="utf-8"))
            assert named == self.prompt(tid, role), named
            return [(self.record / f"{tid}-{role}-1.{n}").read_bytes() for n in ("stdin", "file")]
        return self.asked

    def prompt(self, tid: str, role: str) -> Path:
        return self.project.layout.prompt(tid, role, 1)  # type: ignore[arg-type]


def add_hostile_taskspecs(project: HatchProject) -> None:
    for n, (tid, body) in enumerate(CASES.items()):
        title = hostile_title(n, pasted=tid not in POINTER_EXPECTED)
        full = body + "\n\n" + module_body(f"inj{n}", f"inj{n}", str(n))
        project.add_taskspec(tid, body=full.rstrip(), title=title)


def build(profile: str, project: HatchProject, base: Path) -> Built:
    """Configure `profile` for both roles, then build every CASES TaskSpec in one run."""
    record = base / "recorded"
    add_hostile_taskspecs(project)
    planning_before = tree_hashes(project.planning)
    if profile == "codex":
        use_codex(project, write_fake_codex(base / "bin"))
        project.env["FAKE_CODEX_PROMPTS"] = str(record)
    elif profile == "generic":
        project.configure(
            agents={"factory": "generic", "qa": "generic"},
            agent_params={"generic": {"command": generic_command(record)}},
        )
    asked: list[bytes] = []
    if not profile.startswith("claude-code"):
        done = run_doit(project, "-n", "3", timeout=240)
    else:
        claude = pinned_claude_code()
        with FakeAnthropic(max_requests=600, lifetime=400) as fake:
            use_claude(project, fake, claude, profile)
            done = run_doit(project, "-n", "3", timeout=360)
        asked = [b.encode() for b in {b for s in fake.seen if s.kind == "main" for b in s.asked}]
    return Built(profile, project, base, done, planning_before, record, asked)


@pytest.fixture(
    scope="module",
    # the real Claude Code builds take 12-24 s each: slow (python3 -m pytest -m slow)
    params=[pytest.param(p, marks=pytest.mark.slow) if "claude" in p else p for p in PROFILES],
)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """One build per profile, shared by this module's tests."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    base = tmp_path_factory.mktemp(f"inj-{request.param}")
    project = make_project(base)
    try:
        yield build(request.param, project, base)
    finally:
        project.tmux("kill-server")
        shutil.rmtree(project.env["TMUX_TMPDIR"], ignore_errors=True)


@pytest.mark.parametrize("tid", list(CASES))
def test_agent_receives_the_taskspec_text_verbatim(built: Built, tid: str) -> None:
    """(1) The prompt file holds the body and the title byte for byte, and the agent got that
    file's exact bytes (or, pasted into Claude Code, the pointer to it) as its prompt."""
    spec = load_plan(built.project.planning).taskspec(tid)
    assert spec.body.startswith(CASES[tid]), f"{tid}: the loader changed the body"
    for role in ROLES:
        prompt = built.prompt(tid, role)
        sent = prompt.read_bytes()
        assert spec.body.encode() in sent and spec.title.encode() in sent, f"{tid} {role}"
        pointer = prompt.with_name(prompt.stem + ".pointer.md")
        received = built.received(tid, role)
        if built.profile == "claude-code":
            pasted = pointer.read_bytes() if pointer.exists() else sent
            # Claude Code wraps a paste in <pasted_content> tags: it must be inside, whole.
            assert any(pasted in got for got in received), f"{tid} {role}: the paste changed"
            assert pointer.exists() == (tid in POINTER_EXPECTED), f"{tid} {role}: pointer or paste"
            if pointer.exists():
                assert f"hatchdoit:prompt-file={prompt} -->".encode() in pasted
            continue
        assert not pointer.exists(), "the prompt file is the CLI's stdin: no pointer"
        if built.profile == "claude-code-headless":  # the CLI sent it as one text block
            assert sent in received, f"{tid} {role}: the CLI sent other text than its stdin"
        else:
            assert all(got == sent for got in received), f"{tid} {role}: other text received"


def test_nothing_was_executed(built: Built) -> None:
    """(2) No PWNED* file under the temp tree (project, worktrees, HOME, planning repo), at /,
    /tmp, the current directory or the checkout; the planning repo unchanged."""
    project = built.project
    home = Path(project.env["HOME"])
    assert home.is_relative_to(built.base) and project.layout.worktrees.is_relative_to(built.base)
    assert not pwned_files(built.base, Path(project.env["TMUX_TMPDIR"]))
    assert tree_hashes(project.planning) == built.planning_before


def test_every_taskspec_reaches_done(built: Built) -> None:
    """(3) Every TaskSpec built and approved at attempt 1; the logs still parse line by line."""
    done = built.done
    assert done.returncode == 0, f"{built.profile}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    layout = built.project.layout
    for n, tid in enumerate(CASES):
        assert load_valid(layout.done(tid), DoneRecord).attempt == 1, tid
        assert load_valid(layout.verdict(tid, 1), VerdictRecord).verdict == "approved", tid
        assert (layout.worktree(tid) / "src" / "app" / f"inj{n}.py").is_file(), tid
    assert_logs_parse(built.project)
