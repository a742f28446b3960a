"""The real Claude Code CLI, pinned, for tests that run it offline against tests/fake_anthropic.py.

The CLI is the npm package @anthropic-ai/claude-code at a pinned version, installed once into a
cache directory (reused when present); tests that need it skip only when node/npm are missing.
use_claude() points a test project at the fake API and the CLI.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from fake_anthropic import FakeAnthropic
from pinned_npm import PinnedCli
from projects import HatchProject

CLAUDE_CODE_VERSION = "2.1.330"
FAKE_KEY = "sk-ant-api03-fake-key-for-offline-tests-0000000000"


def _postinstall(prefix: Path) -> None:
    """npm may have skipped the package's postinstall that puts the native binary in place."""
    package = prefix / "node_modules" / "@anthropic-ai" / "claude-code"
    subprocess.run(["node", "install.cjs"], cwd=package, check=False, timeout=120)


CLAUDE_CODE = PinnedCli(
    label="Claude Code",
    package="@anthropic-ai/claude-code",
    version=CLAUDE_CODE_VERSION,
    folder="claude-code",
    command="claude",
    repair=_postinstall,
)


def pinned_claude_code() -> Path:
    """The pinned CLI (installed on first use); skips the test when node or npm is missing."""
    return CLAUDE_CODE.pinned()


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
