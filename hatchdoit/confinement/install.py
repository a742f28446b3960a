"""Installing the pinned srt into `~/.cache/hatchdoit/sandbox-runtime/<version>/` with npm (as
the agent CLIs are), and naming the system packages it needs that are missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from hatchdoit.confinement.availability import missing_tools
from hatchdoit.confinement.srt import SRT_PACKAGE, SRT_VERSION, cache_dir
from hatchdoit.core.errors import ConfigError


def system_hint() -> str:
    """What to install with the system's package manager, or "" when nothing is missing."""
    missing = missing_tools()
    if not missing:
        return ""
    how = "sudo apt-get install -y" if sys.platform.startswith("linux") else "brew install"
    return f"{how} {' '.join(missing)}"


def install_srt(version: str = SRT_VERSION) -> Path:
    """`npm install` the pinned srt into its cache directory (again if it is there: npm makes
    it whole); the path of its `srt`."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError(
            "npm is not on PATH: srt is an npm package",
            field="confinement",
            fix="install nodejs and npm (Node.js 20 or later), then run this again",
        )
    target = cache_dir(version)
    target.mkdir(parents=True, exist_ok=True)
    argv = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(target)]
    done = subprocess.run(
        [*argv, f"{SRT_PACKAGE}@{version}"], capture_output=True, text=True, check=False
    )
    srt = target / "node_modules" / ".bin" / "srt"
    if done.returncode != 0 or not srt.exists():
        said = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(
            f"npm install {SRT_PACKAGE}@{version} failed: {said[-1] if said else done.returncode}",
            path=target,
            fix="check npm's registry access (npm config get registry), then run this again",
        )
    return srt
