"""doctor's check of the workspace setup (`workspace.setup`, and `planning.defaults.test_command`):
is the program each command runs installed? Looked up on PATH, never run: a setup may take
minutes and write caches, doctor only looks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from hatchdoit.cli.doctor_check import Check
from hatchdoit.cli.init_detect import tool_of
from hatchdoit.config.models import HatchdoitConfig

# How to install the tools init writes into a setup.
INSTALL = {
    "uv": "install uv (https://docs.astral.sh/uv/: `pipx install uv` or its installer)",
    "pnpm": "install pnpm (`corepack enable pnpm`, or `npm install -g pnpm`)",
    "yarn": "install yarn (`corepack enable yarn`)",
    "npm": "install Node.js with npm (https://nodejs.org or the system's package manager)",
    "go": "install Go (https://go.dev/doc/install)",
    "cargo": "install Rust with rustup (https://rustup.rs)",
    "python3": "install Python 3 (with its venv module: apt-get install python3-venv)",
    "make": "install make (apt-get install make)",
}


def check_setup_tools(config: HatchdoitConfig | None, environ: Mapping[str, str]) -> list[Check]:
    """One check per program the setup commands (and the default test command) run."""
    if config is None:
        return []
    commands = [("setup", argv) for argv in config.workspace.setup]
    test_command = config.planning.defaults.test_command
    if test_command:
        commands.append(("test", test_command))
    if not commands:
        return [Check("setup", "skip", "workspace.setup is empty: worktrees get no setup")]
    path = environ.get("PATH", os.defpath)
    checks: list[Check] = []
    seen: set[str] = set()
    for role, argv in commands:
        tool = tool_of(argv)
        if tool is None:
            checks.append(
                Check(
                    f"{role} command",
                    "fail",
                    f"{argv!r} runs no program",
                    "write the command as an argv list: [program, arg, ...]",
                )
            )
            continue
        if tool in seen:
            continue
        seen.add(tool)
        checks.append(_check_tool(role, tool, path))
    return checks


def _check_tool(role: str, tool: str, path: str) -> Check:
    name = f"{role} tool {tool}"
    if "/" in tool and not os.path.isabs(tool):
        # e.g. .venv/bin/python: made in the worktree by an earlier setup command
        return Check(name, "ok", "in the worktree, made by the setup")
    found = shutil.which(tool, path=path)
    if found is not None:
        return Check(name, "ok", found)
    fix = INSTALL.get(os.path.basename(tool), f"install {tool}, or change workspace.setup")
    where = "not executable" if os.path.isabs(tool) else "not found on PATH"
    return Check(name, "fail", f"{tool}: {where} (hatchdoit.yaml's workspace.setup runs it)", fix)
