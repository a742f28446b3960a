"""The scripts that write a file atomically (scripts/lib/common.sh: temp_beside, commit_temp):
launch_agent.sh's exit file, marker_hook.sh's markers and capture_output.sh's screen. A write
that cannot happen is an error with the script's documented status, and leaves neither a temp
file nor anything at the destination."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from script_harness import AGENT, CAPTURE, SCRIPTS, env, run, socket_name

pytestmark = pytest.mark.integration

__all__ = ["env", "socket_name"]  # fixtures

MARKER = SCRIPTS / "agent" / "marker_hook.sh"


CASES = ["no directory", "a directory"]


def _blocked(tmp_path: Path, case: str) -> Path:
    """A destination that cannot be written: for "no directory" its directory cannot exist (the
    parent is a regular file); for "a directory" it is a directory (a rename would land inside
    it). Both are made, so _assert_untouched can check both."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory\n")
    taken = tmp_path / "taken"
    (taken / "inside").mkdir(parents=True)
    return blocker / "sub" / "out.json" if case == "no directory" else taken


def _assert_untouched(tmp_path: Path) -> None:
    """Nothing was written at either blocked destination, and no temp file is left anywhere."""
    assert not (tmp_path / "blocker" / "sub").exists()
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["inside"]
    assert _leftovers(tmp_path) == []


def _leftovers(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob(".*") if p.is_file())


def _qa_agent(
    tmp_path: Path, env: dict[str, str], exit_file: Path, code: int
) -> subprocess.CompletedProcess[str]:
    """launch_agent.sh running an agent that exits with `code`, in worktree T1 of a new root."""
    root = tmp_path / "worktrees"
    (root / "T1").mkdir(parents=True)
    return run(
        AGENT,
        "--role", "qa", "--worktree", root / "T1", "--worktrees-root", root,
        "--", sys.executable, "-c", f"raise SystemExit({code})",
        env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
    )  # fmt: skip


def test_marker_hook_writes_and_counts_without_leftovers(
    tmp_path: Path, env: dict[str, str]
) -> None:
    marker = tmp_path / "markers" / "submitted"
    for expected in ("1", "2"):
        done = run(MARKER, "submitted", env=env | {"HATCHDOIT_SUBMITTED_FILE": str(marker)})
        assert done.returncode == 0, done.stderr
        assert marker.read_text() == expected + "\n"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("case", CASES)
def test_marker_hook_that_cannot_write_exits_1(
    tmp_path: Path, env: dict[str, str], case: str
) -> None:
    dest = _blocked(tmp_path, case)
    done = run(MARKER, "ready", env=env | {"HATCHDOIT_READY_FILE": str(dest)})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"marker_hook.sh: error: cannot write {dest}\n"
    _assert_untouched(tmp_path)


@pytest.mark.parametrize("case", CASES)
def test_launch_agent_keeps_the_agents_status_when_the_exit_file_cannot_be_written(
    tmp_path: Path, env: dict[str, str], case: str
) -> None:
    dest = _blocked(tmp_path, case)
    done = _qa_agent(tmp_path, env, dest, code=5)
    assert done.returncode == 5
    assert done.stderr == f"launch_agent.sh: error: could not write {dest}\n"
    _assert_untouched(tmp_path)


def test_launch_agent_exit_file_replaces_an_old_one(tmp_path: Path, env: dict[str, str]) -> None:
    exit_file = tmp_path / "hooks" / "qa-1.exit.json"
    exit_file.parent.mkdir()
    exit_file.write_text("stale")
    done = _qa_agent(tmp_path, env, exit_file, code=0)
    assert done.returncode == 0, done.stderr
    assert json.loads(exit_file.read_text())["exit_code"] == 0
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("case", CASES)
def test_capture_output_that_cannot_write_exits_1(
    tmp_path: Path, env: dict[str, str], socket_name: str, case: str
) -> None:
    started = run(
        SCRIPTS / "tmux" / "launch_session.sh",
        "--socket", socket_name, "--session", "s1", "--cwd", tmp_path,
        "--", "sleep", "30",
        env=env,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    dest = _blocked(tmp_path, case)
    done = run(CAPTURE, "--socket", socket_name, "--session", "s1", "--out", dest, env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("capture_output.sh: error: cannot ")
    assert done.stderr.count("\n") == 1, done.stderr
    _assert_untouched(tmp_path)
