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


def _blocked(tmp_path: Path) -> tuple[Path, Path]:
    """A destination whose directory cannot exist (its parent is a regular file), and a
    destination that is a directory (a rename would land inside it)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory\n")
    taken = tmp_path / "taken"
    (taken / "inside").mkdir(parents=True)
    return blocker / "sub" / "out.json", taken


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


@pytest.mark.parametrize("case", ["no directory", "a directory"])
def test_marker_hook_that_cannot_write_exits_1(
    tmp_path: Path, env: dict[str, str], case: str
) -> None:
    no_dir, a_dir = _blocked(tmp_path)
    dest = no_dir if case == "no directory" else a_dir
    done = run(MARKER, "ready", env=env | {"HATCHDOIT_READY_FILE": str(dest)})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"marker_hook.sh: error: cannot write {dest}\n"
    assert not no_dir.exists() and sorted(p.name for p in a_dir.iterdir()) == ["inside"]
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("case", ["no directory", "a directory"])
def test_launch_agent_keeps_the_agents_status_when_the_exit_file_cannot_be_written(
    tmp_path: Path, env: dict[str, str], case: str
) -> None:
    no_dir, a_dir = _blocked(tmp_path)
    dest = no_dir if case == "no directory" else a_dir
    done = _qa_agent(tmp_path, env, dest, code=5)
    assert done.returncode == 5
    assert done.stderr == f"launch_agent.sh: error: could not write {dest}\n"
    assert not no_dir.exists() and sorted(p.name for p in a_dir.iterdir()) == ["inside"]
    assert _leftovers(tmp_path) == []


def test_launch_agent_exit_file_replaces_an_old_one(tmp_path: Path, env: dict[str, str]) -> None:
    exit_file = tmp_path / "hooks" / "qa-1.exit.json"
    exit_file.parent.mkdir()
    exit_file.write_text("stale")
    done = _qa_agent(tmp_path, env, exit_file, code=0)
    assert done.returncode == 0, done.stderr
    assert json.loads(exit_file.read_text())["exit_code"] == 0
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("case", ["no directory", "a directory"])
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
    no_dir, a_dir = _blocked(tmp_path)
    dest = no_dir if case == "no directory" else a_dir
    done = run(CAPTURE, "--socket", socket_name, "--session", "s1", "--out", dest, env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("capture_output.sh: error: cannot ")
    assert done.stderr.count("\n") == 1, done.stderr
    assert not no_dir.exists() and sorted(p.name for p in a_dir.iterdir()) == ["inside"]
    assert _leftovers(tmp_path) == []
