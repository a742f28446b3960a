"""Shared by the tests of scripts/ (test_scripts_*.py): the scripts' paths, a clean environment
without any user or system git config or outer tmux, running a script, and a private tmux socket
per test whose server is killed at teardown.

The fixtures (`env`, run with GNU and with BSD-flavoured tools; `root`, `socket_name`) are
imported by the test modules that use them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bsd_userland import write_standins

from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS

SCRIPTS = BUNDLED_SCRIPTS
CREATE = SCRIPTS / "git" / "create_worktree.sh"
REMOVE = SCRIPTS / "git" / "remove_worktree.sh"
LAUNCH = SCRIPTS / "tmux" / "launch_session.sh"
CAPTURE = SCRIPTS / "tmux" / "capture_output.sh"
AGENT = SCRIPTS / "agent" / "launch_agent.sh"
FACTORY = SCRIPTS / "agent" / "launch_factory.sh"
QA = SCRIPTS / "agent" / "launch_qa.sh"
MONITOR = SCRIPTS / "agent" / "monitor_stop_hook.sh"
MOUNT = SCRIPTS / "mount" / "ensure_readonly_mount.sh"

ALL_SCRIPTS = [CREATE, REMOVE, LAUNCH, CAPTURE, AGENT, FACTORY, QA, MONITOR, MOUNT]
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
}

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def retry_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll predicate until true; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s: {predicate}")
        time.sleep(0.05)


_bsd_bin: list[Path] = []


def bsd_bin() -> Path:
    """A directory of BSD-flavoured mv, realpath, readlink, sed, stat, date, mktemp, env (made once
    per test process, removed at its exit)."""
    if not _bsd_bin:
        made = Path(tempfile.mkdtemp(prefix="hd-bsd-"))
        atexit.register(shutil.rmtree, made, True)
        _bsd_bin.append(write_standins(made))
    return _bsd_bin[0]


@pytest.fixture(params=["gnu", "bsd"])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A clean environment: own HOME, no user or system git config, no outer tmux. Every test
    that takes it runs twice: with this machine's (GNU) userland, and with BSD-flavoured
    stand-ins first on PATH (tests/bsd_userland.py), as the scripts would run on macOS.
    The test runs in tmp_path: a script that fails and prints nothing leaves a test holding
    Path(""), the current directory, which must never be the checkout (it would commit to it
    and delete it)."""
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "TMUX"))}
    clean.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        LC_ALL="C",
        **IDENTITY,
    )
    if request.param == "bsd":
        clean["PATH"] = f"{bsd_bin()}{os.pathsep}{clean.get('PATH', os.defpath)}"
    return clean


def run(
    script: Path, *args: str | Path, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *map(str, args)],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "_worktrees"


@pytest.fixture
def socket_name(env: dict[str, str]) -> Iterator[str]:
    """A private tmux socket per test, in a short-lived socket directory; its server is killed."""
    socket_dir = tempfile.mkdtemp(prefix="hdtmux-")  # short: socket paths are limited to ~100 bytes
    env["TMUX_TMPDIR"] = socket_dir
    name = f"hdtest-{uuid.uuid4().hex[:12]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], env=env, capture_output=True)
    shutil.rmtree(socket_dir, ignore_errors=True)


def tmux(socket: str, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def launch(
    socket: str, session: str, cwd: Path, env: dict[str, str], *args: str | Path
) -> subprocess.CompletedProcess[str]:
    return run(LAUNCH, "--socket", socket, "--session", session, "--cwd", cwd, *args, env=env)
