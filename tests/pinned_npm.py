"""A real agent CLI from npm at a pinned version, for the tests that run it offline: installed
once into `~/.cache/hatchdoit/<folder>/<version>/` (reused when present; `.ci/setup --test`
installs into the same place), skipped only when node or npm is missing, a failure (never a
skip) when npm is there and the install does not work. claude_code_cli.py and codex_cli.py pin
theirs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PinnedCli:
    label: str  # for the skip line: "Claude Code"
    package: str  # the npm package, without the version
    version: str
    folder: str  # under ~/.cache/hatchdoit/
    command: str  # the binary in node_modules/.bin
    # run when the installed binary does not say its version yet (a skipped postinstall)
    repair: Callable[[Path], None] | None = None

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    def cache_dir(self) -> Path:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "hatchdoit" / self.folder / self.version

    def install(self) -> Path:
        """The pinned CLI from the cache, installed with npm when missing."""
        prefix = self.cache_dir()
        binary = prefix / "node_modules" / ".bin" / self.command
        if self.version in version_of(binary):
            return binary
        prefix.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", self.spec],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm install {self.spec} failed:\n{done.stdout}\n{done.stderr}")
        if self.repair is not None and self.version not in version_of(binary):
            self.repair(prefix)
        version = version_of(binary)
        if self.version not in version:
            pytest.fail(f"{binary} --version says {version!r}, expected {self.version}")
        return binary

    def pinned(self) -> Path:
        """The pinned CLI (installed on first use); skips the test when node or npm is missing."""
        missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
        if missing:
            reason = f"{' and '.join(missing)} not installed: cannot install {self.spec}"
            print(f"\nSKIP {self.label} CLI tests: {reason}")
            pytest.skip(reason)
        return self.install()


def version_of(binary: Path) -> str:
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
