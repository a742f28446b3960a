"""The real Claude Code CLI, pinned, for tests that run it offline against tests/fake_anthropic.py.

The CLI is the npm package @anthropic-ai/claude-code at a pinned version, installed once into a
cache directory (reused when present); tests that need it skip only when node/npm are missing.
use_claude() points a test project at the fake API and the CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import FakeAnthropic
from projects import HatchProject

CLAUDE_CODE_VERSION = "2.1.330"
PACKAGE = f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}"
FAKE_KEY = "sk-ant-api03-fake-key-for-offline-tests-0000000000"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hatchdoit" / "claude-code" / CLAUDE_CODE_VERSION


def _version_of(binary: Path) -> str:
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def install_claude_code() -> Path:
    """The pinned CLI from the cache, installed with npm when missing; fails (never skips) when
    npm is present but the install does not work."""
    prefix = cache_dir()
    binary = prefix / "node_modules" / ".bin" / "claude"
    if CLAUDE_CODE_VERSION in _version_of(binary):
        return binary
    prefix.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", PACKAGE],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm install {PACKAGE} failed:\n{done.stdout}\n{done.stderr}")
    if CLAUDE_CODE_VERSION not in _version_of(binary):
        # npm may have skipped the package's postinstall that puts the native binary in place.
        package = prefix / "node_modules" / "@anthropic-ai" / "claude-code"
        subprocess.run(["node", "install.cjs"], cwd=package, check=False, timeout=120)
    version = _version_of(binary)
    if CLAUDE_CODE_VERSION not in version:
        pytest.fail(f"{binary} --version says {version!r}, expected {CLAUDE_CODE_VERSION}")
    return binary


def pinned_claude_code() -> Path:
    """The pinned CLI (installed on first use); skips the test when node or npm is missing."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed: cannot install {PACKAGE}"
        print(f"\nSKIP Claude Code tests: {reason}")
        pytest.skip(reason)
    return install_claude_code()


def use_claude(
    project: HatchProject,
    fake: FakeAnthropic,
    claude_bin: Path,
    profile: str,
    params: dict[str, Any] | None = None,
) -> None:
    """Point the project at the fake API and the pinned CLI, with `profile` for both roles."""
    project.env.update(
        HATCHDOIT_CLAUDE_BIN=str(claude_bin),
        ANTHROPIC_BASE_URL=fake.url,
        ANTHROPIC_API_KEY=FAKE_KEY,
        DISABLE_TELEMETRY="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_MAX_RETRIES="0",
    )
    if os.geteuid() == 0:
        project.env["IS_SANDBOX"] = "1"  # --dangerously-skip-permissions refuses root otherwise
    project.configure(
        agents={"factory": profile, "qa": profile},
        agent_params={profile: params if params is not None else {"skip_permissions": True}},
        limits={"submit_timeout": 3},
    )
