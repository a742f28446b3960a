"""Injection safety.

TaskSpec text with shell syntax, tmux formats, control characters (the end-of-paste sequence,
Ctrl-C), newlines, unicode and a 100 KB body must reach the agent verbatim and execute nothing:
the scripted agent records every prompt it receives (SCRIPTED_RECORD_PROMPTS), which is compared
byte for byte with the prompt file, and no PWNED file may appear anywhere. The scripts refuse such
text as ids. The hostile texts: hostile_text.py; the other agent profiles:
test_injection_profiles.py; secrets from the environment: test_secrets.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import read_audit, tree_hashes
from hostile_text import BODIES, POINTER_EXPECTED, hostile_title, pwned_files
from projects import HatchProject, doit_executable, make_project, module_body

from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS
from hatchdoit.planning.plan import load_plan
from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration


def build_with_recorded_prompts(project: HatchProject, tid: str, record: Path) -> None:
    """Build one TaskSpec with the agents recording their prompts into `record` (a variable of
    the build's environment: every session gets that, whichever build started the server)."""
    env = {**project.env, "SCRIPTED_RECORD_PROMPTS": str(record)}
    done = subprocess.run(
        [doit_executable(), f"taskspec:{tid}"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{tid}:\n{done.stdout}\n{done.stderr}"


@dataclass
class Injected:
    project: HatchProject
    records: dict[str, Path]
    base: Path
    planning_before: dict[str, str]


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Injected]:
    """Every BODIES TaskSpec built (each also writes a module and a passing test), one build per
    TaskSpec so each has its own record directory."""
    base = tmp_path_factory.mktemp("injection")
    project = make_project(base)
    try:
        for n, (tid, body) in enumerate(BODIES.items()):
            title = hostile_title(n, pasted=tid not in POINTER_EXPECTED)
            full = body + "\n\n" + module_body(f"inj{n}", f"inj{n}", str(n))
            project.add_taskspec(tid, body=full.rstrip(), title=title)
        planning_before = tree_hashes(project.planning)
        records = {}
        for tid in BODIES:
            records[tid] = base / "recorded" / tid
            build_with_recorded_prompts(project, tid, records[tid])
        yield Injected(project, records, base, planning_before)
    finally:
        project.tmux("kill-server")


def test_prompt_files_hold_the_taskspec_text_verbatim(injected: Injected) -> None:
    plan = load_plan(injected.project.planning)
    layout = injected.project.layout
    for tid, body in BODIES.items():
        spec = plan.taskspec(tid)
        assert spec.body.startswith(body), f"{tid}: the loader changed the body"
        for role in ("factory", "qa"):
            sent = layout.prompt(tid, role, 1).read_bytes()  # type: ignore[arg-type]
            assert spec.body.encode() in sent, f"{tid} {role}: the prompt file lacks the body"
            assert spec.title.encode() in sent
            pointer = layout.prompt(tid, role, 1).with_name("prompt-001.pointer.md")  # type: ignore[arg-type]
            assert pointer.exists() == (tid in POINTER_EXPECTED), f"{tid} {role} pointer"
        assert load_valid(layout.done(tid), DoneRecord).attempt == 1


@pytest.mark.parametrize("tid", list(BODIES))
def test_agent_receives_the_prompt_byte_for_byte(injected: Injected, tid: str) -> None:
    layout = injected.project.layout
    for role in ("factory", "qa"):
        recorded = (injected.records[tid] / f"{role}-1-1.md").read_bytes()
        sent = layout.prompt(tid, role, 1).read_bytes()  # type: ignore[arg-type]
        assert recorded == sent, f"{tid} {role}: the agent received other text than was sent"


def test_nothing_was_executed(injected: Injected) -> None:
    project = injected.project
    assert tree_hashes(project.planning) == injected.planning_before
    assert not pwned_files(injected.base, project.root, project.planning)
    assert not Path("/tmp/PWNED_ABSOLUTE").exists()


def test_file_blocks_cannot_escape_the_worktree(injected: Injected) -> None:
    project = injected.project
    worktree = project.layout.worktree("INJ-FILES")
    assert not (worktree.parent.parent / "PWNED_ESCAPE").exists()
    assert not Path("/tmp/PWNED_ABSOLUTE").exists()
    hooks = Path(
        subprocess.run(
            ["git", "-C", str(worktree), "rev-parse", "--git-path", "hooks"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    hook = hooks if hooks.is_absolute() else worktree / hooks
    assert not (hook / "pre-commit").exists()
    pane = project.layout.pane_log("INJ-FILES", "factory", 1).read_text(errors="replace")
    assert pane.count("refusing to write") == 3, pane


def test_audit_and_logs_keep_taskspec_text_as_data(injected: Injected) -> None:
    """The audit trail and JSON logs still parse line by line with control characters around."""
    project = injected.project
    events = read_audit(project)
    assert {e["taskspec_id"] for e in events if e["event"] == "done"} == set(BODIES)
    for path in project.logs.rglob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert line.startswith("{"), (path, line[:80])


# --------------------------------------------------------------------------------------------
# The scripts refuse hostile ids

HOSTILE_IDS = [
    "$(touch PWNED_ID)",
    "`touch PWNED_ID`",
    "a;touch PWNED_ID",
    "a|touch PWNED_ID",
    "a b",
    "../escape",
    "a/b",
    "..",
    "-rf",
    "--force",
    "#{pane_pid}",
    "#(touch PWNED_ID)",
    "a\nb",
    "a\x1b[201~",
    "",
]


def script(*parts: str) -> str:
    return str(BUNDLED_SCRIPTS / Path(*parts))


def script_calls(bad: str, tmp: Path) -> dict[str, list[str]]:
    repo, root = str(tmp / "repo"), str(tmp / "wt")
    return {
        "create_worktree": [
            script("git", "create_worktree.sh"),
            "--repo",
            repo,
            "--worktrees-root",
            root,
            "--id",
            bad,
            "--base",
            "main",
        ],
        "remove_worktree": [
            script("git", "remove_worktree.sh"),
            "--repo",
            repo,
            "--worktrees-root",
            root,
            "--id",
            bad,
        ],
        "launch_session": [
            script("tmux", "launch_session.sh"),
            "--socket",
            "hd-inj-test",
            "--session",
            bad,
            "--cwd",
            str(tmp),
            "--",
            "true",
        ],
        "capture_output": [
            script("tmux", "capture_output.sh"),
            "--socket",
            "hd-inj-test",
            "--session",
            bad,
            "--out",
            str(tmp / "screen.txt"),
        ],
        "launch_session_socket": [
            script("tmux", "launch_session.sh"),
            "--socket",
            bad,
            "--session",
            "ok",
            "--cwd",
            str(tmp),
            "--",
            "true",
        ],
    }


def git_repo(path: Path) -> None:
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
        check=True,
    )


def socket_file_name(name: str, bad: str) -> bool:
    """A socket name with a leading '-' is let through: `tmux -L` takes it as the socket's file
    name, as hatchdoit's config allows."""
    return name == "launch_session_socket" and bad.startswith("-")


@pytest.mark.parametrize("bad", HOSTILE_IDS, ids=lambda s: repr(s))
def test_scripts_refuse_hostile_ids(bad: str, tmp_path: Path) -> None:
    git_repo(tmp_path / "repo")
    env = {**os.environ, "TMUX_TMPDIR": str(tmp_path)}
    try:
        for name, argv in script_calls(bad, tmp_path).items():
            if socket_file_name(name, bad):
                continue
            done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
            assert done.returncode == 2, f"{name} accepted {bad!r}: {done.stdout}{done.stderr}"
            assert "error" in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "wt").exists()
        assert not pwned_files(tmp_path)
        listed = subprocess.run(["tmux", "-L", "hd-inj-test", "ls"], capture_output=True, env=env)
        assert listed.returncode != 0, f"a session was started: {listed.stdout!r}"
    finally:
        subprocess.run(["tmux", "-L", "hd-inj-test", "kill-server"], capture_output=True, env=env)


@pytest.mark.parametrize("bad", ["..", "a.b", "-rf"])
def test_launch_session_refuses_what_tmux_would_rewrite(bad: str, tmp_path: Path) -> None:
    env = {**os.environ, "TMUX_TMPDIR": str(tmp_path)}
    try:
        done = subprocess.run(
            script_calls(bad, tmp_path)["launch_session"],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        listed = subprocess.run(["tmux", "-L", "hd-inj-test", "ls"], capture_output=True, env=env)
    finally:
        subprocess.run(["tmux", "-L", "hd-inj-test", "kill-server"], capture_output=True, env=env)
    assert done.returncode == 2, done.stderr
    assert listed.returncode != 0, f"a session was left running: {listed.stdout!r}"


@pytest.mark.parametrize("bad", ["a\nb", "a\x1b[201~", "a\x1b]0;title\x07"])
def test_script_errors_print_hostile_ids_safely(bad: str, tmp_path: Path) -> None:
    git_repo(tmp_path / "repo")
    env = {**os.environ, "TMUX_TMPDIR": str(tmp_path)}
    for name, argv in script_calls(bad, tmp_path).items():
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
        assert done.returncode == 2, name
        line = done.stderr.removesuffix("\n")
        assert "\n" not in line and "\x1b" not in line, repr(done.stderr)
