"""The real Codex CLI, pinned, for tests that run it offline against tests/fake_openai.py.

The CLI is the npm package @openai/codex at a pinned version, installed once into a cache
directory (reused when present); tests that need it skip only when node/npm are missing.
`codex_home()` writes a CODEX_HOME of the test's own whose config.toml points Codex at the
stand-in (a `[model_providers.fake]` with `wire_api = "responses"`) and switches off what would
reach the network (update checks, analytics, the plugin and apps catalogs): the user's
~/.codex is never read. `use_codex_cli()` points a test project at it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fake_openai import MODEL, FakeOpenAI
from projects import HatchProject

CODEX_VERSION = "0.171.0"
PACKAGE = f"@openai/codex@{CODEX_VERSION}"
FAKE_KEY = "sk-proj-fake-key-for-offline-tests-0000"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hatchdoit" / "codex" / CODEX_VERSION


def _version_of(binary: Path) -> str:
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def install_codex() -> Path:
    """The pinned CLI from the cache, installed with npm when missing; fails (never skips) when
    npm is present but the install does not work."""
    prefix = cache_dir()
    binary = prefix / "node_modules" / ".bin" / "codex"
    if CODEX_VERSION in _version_of(binary):
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
    version = _version_of(binary)
    if CODEX_VERSION not in version:
        pytest.fail(f"{binary} --version says {version!r}, expected {CODEX_VERSION}")
    return binary


def pinned_codex() -> Path:
    """The pinned CLI (installed on first use); skips the test when node or npm is missing."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed: cannot install {PACKAGE}"
        print(f"\nSKIP Codex CLI tests: {reason}")
        pytest.skip(reason)
    return install_codex()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def codex_home(directory: Path, fake: FakeOpenAI, **provider: Any) -> Path:
    """A CODEX_HOME whose config.toml makes Codex use the stand-in, key from OPENAI_API_KEY.
    `provider` adds keys of the model provider (request_max_retries, stream_max_retries,
    stream_idle_timeout_ms, ...)."""
    directory.mkdir(parents=True, exist_ok=True)
    fields = {
        "name": "fake",
        "base_url": fake.base_url,
        "env_key": "OPENAI_API_KEY",
        "wire_api": "responses",
        **provider,
    }
    lines = [
        f'model = "{MODEL}"',
        'model_provider = "fake"',
        "check_for_update_on_startup = false",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[features]",  # these would fetch catalogs from github.com / chatgpt.com at start-up
        "plugins = false",
        "remote_plugin = false",
        "apps = false",
        "",
        "[model_providers.fake]",
        *(f"{key} = {_toml(value)}" for key, value in fields.items()),
    ]
    (directory / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def codex_env(home: Path, codex_dir: Path) -> dict[str, str]:
    """The environment a bare `codex exec` run needs (no user config, the fake key)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_dir),
        "OPENAI_API_KEY": FAKE_KEY,
        "LANG": "C.UTF-8",
    }


def use_codex_cli(
    project: HatchProject, fake: FakeOpenAI, codex_bin: Path, **provider: Any
) -> Path:
    """Point the project at the stand-in and the pinned CLI, `codex` for both roles; return the
    CODEX_HOME (the profile passes CODEX_* and OPENAI_* through to the CLI)."""
    home = codex_home(project.root.parent / "codex-home", fake, **provider)
    project.env.update(
        HATCHDOIT_CODEX_BIN=str(codex_bin), CODEX_HOME=str(home), OPENAI_API_KEY=FAKE_KEY
    )
    project.configure(agents={"factory": "codex", "qa": "codex"})
    return home
