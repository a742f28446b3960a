"""`hatchdoit doctor` checks the programs `workspace.setup` runs are installed, on the PATH it is
given, without running them (cli/doctor_setup_tools.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import HatchProject
from test_doctor import clean_env, run_cli

pytestmark = pytest.mark.integration


def test_a_missing_setup_tool_fails_with_how_to_install_it(
    project: HatchProject, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ran = tmp_path / "ran"
    # a stand-in `uv` that would leave a mark if doctor ran it
    (bin_dir / "uv").write_text(f"#!/bin/sh\ntouch {ran}\n")
    (bin_dir / "uv").chmod(0o755)
    project.configure(
        workspace={
            "setup": [
                ["uv", "sync", "--frozen"],
                ["env", "CARGO_TARGET_DIR=../../t", "no-such-tool-hd", "fetch"],
                [".venv/bin/python", "-m", "pip", "install", "-e", "."],
            ]
        },
        planning={"defaults": {"test_command": ["pnpm", "test"]}},
    )
    env = clean_env(project)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    done = run_cli(project.root, env, "--profile", "scripted", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["setup tool uv"]["status"] == "ok"
    assert checks["setup tool uv"]["detail"] == str(bin_dir / "uv")
    missing = checks["setup tool no-such-tool-hd"]
    assert missing["status"] == "fail"
    assert "not found on PATH" in missing["detail"] and "workspace.setup" in missing["detail"]
    assert missing["fix"]
    assert checks["setup tool .venv/bin/python"]["status"] == "ok"  # made by the setup
    assert "test tool pnpm" in checks  # the default test command's program is checked too
    assert not ran.exists()  # looked up, never run


def test_no_setup_is_said_not_failed(project: HatchProject) -> None:
    done = run_cli(project.root, clean_env(project), "--profile", "scripted", "--json")
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["setup"]["status"] == "skip"
    assert done.returncode == 0, done.stdout
