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
from pathlib import Path
from typing import Any

from fake_openai import MODEL, FakeOpenAI
from pinned_npm import PinnedCli
from projects import HatchProject

CODEX_VERSION = "0.171.0"
FAKE_KEY = "sk-proj-fake-key-for-offline-tests-0000"
CODEX = PinnedCli(
    label="Codex", package="@openai/codex", version=CODEX_VERSION, folder="codex", command="codex"
)


def pinned_codex() -> Path:
    """The pinned CLI (installed on first use); skips the test when node or npm is missing."""
    return CODEX.pinned()


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
    """The environment a bare `codex exec` run needs (no user config, the fake key). TMPDIR is
    a directory of its own beside CODEX_HOME: Codex refuses to make its `codex-linux-sandbox`
    alias (which its bubblewrap sandbox execs by name) under CODEX_HOME when that lies inside
    the temp dir, and a test's CODEX_HOME lies under /tmp."""
    temp = codex_dir.parent / f"{codex_dir.name}-tmp"
    temp.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_dir),
        "TMPDIR": str(temp),
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
