"""The rules every script under scripts/ follows: a strict bash executable (no eval), a one-line
usage error for an unknown option (also when called through a symlink), and hostile arguments
printed quoted, never raw."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from script_harness import ALL_SCRIPTS, FACTORY, QA, SCRIPTS, env, run

pytestmark = pytest.mark.integration

__all__ = ["env"]  # fixtures


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_strict_executables(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert os.access(script, os.X_OK)
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert "eval" not in script.read_text().split()


@pytest.mark.parametrize("linked", [False, True], ids=["direct", "through-symlink"])
@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.name)
def test_unknown_option_is_a_one_line_usage_error(
    script: Path, linked: bool, env: dict[str, str], tmp_path: Path
) -> None:
    """Also when called through a symlink in another directory (e.g. ~/bin): the script still
    finds scripts/lib/common.sh and its sibling scripts beside the file the link points to."""
    called = script
    if linked:
        called = tmp_path / "bin" / script.name
        called.parent.mkdir()
        called.symlink_to(os.path.relpath(script, called.parent))
    result = run(called, "--no-such-option", env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        f"{SCRIPTS.joinpath('agent/launch_agent.sh').name}: error: "
        if script in (FACTORY, QA)
        else f"{script.name}: error: "
    )


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.name)
def test_a_hostile_argument_is_printed_quoted(script: Path, env: dict[str, str]) -> None:
    """Newlines and escape sequences in what the caller passed never reach the terminal raw."""
    result = run(script, "--x\nforged: line\x1b]0;title\x07\x1b[2J", env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr, repr(result.stderr)
    assert "$'--x\\nforged: line\\E]0;title\\a\\E[2J'" in result.stderr  # bash printf %q
