"""Tmux.close: an agent session's screen and history saved, then the session ended only if it is
the launch whose token hatchdoit holds, in one tmux process; on a real tmux server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from script_harness import SCRIPTS, launch, needs_tmux, retry_until, socket_name, tmux

from hatchdoit.agents.tmux import TOKEN_OPTION, Tmux

pytestmark = pytest.mark.integration
__all__ = ["socket_name"]  # fixture
TOKEN = "0123456789ab-cafef00dcafef00d"
SECRET = "hatchdoit-test-secret-value-9f8e7d"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HD_CLOSE_TEST_API_KEY", SECRET)  # redaction takes *_API_KEY values
    return {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}


def _session(
    socket: str, name: str, cwd: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Tmux:
    monkeypatch.setenv("TMUX_TMPDIR", env["TMUX_TMPDIR"])
    code = (
        "import time; [print(f'line-{i}') for i in range(80)]; "
        f"print('SCREEN-MARK {SECRET}', flush=True); time.sleep(60)"
    )
    started = launch(
        socket, name, cwd, env, "--option", f"{TOKEN_OPTION}={TOKEN}", "--", sys.executable,
        "-c", code,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    retry_until(
        lambda: "SCREEN-MARK" in tmux(socket, "capture-pane", "-p", "-t", f"={name}:", env=env)
    )
    return Tmux(socket, SCRIPTS)


def _alive(socket: str, name: str, env: dict[str, str]) -> bool:
    return name in tmux(socket, "list-sessions", "-F", "#{session_name}", env=env).split()


@needs_tmux
def test_close_saves_the_screen_and_ends_its_own_launch(
    socket_name: str, tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _session(socket_name, "tc-own", tmp_path, env, monkeypatch)
    tmux(socket_name, "new-session", "-d", "-s", "tc-keep", "sleep", "60", env=env)
    screen = tmp_path / "screen.txt"
    assert session.close("tc-own", TOKEN, screen) is True
    text = screen.read_text()
    assert "SCREEN-MARK" in text and "line-0" in text  # the history beyond the screen
    assert SECRET not in text, "the capture is redacted"
    assert not _alive(socket_name, "tc-own", env) and _alive(socket_name, "tc-keep", env)
    gone = tmp_path / "gone.txt"
    assert session.close("tc-own", TOKEN, gone) is True and not gone.exists()


@needs_tmux
def test_close_leaves_another_launchs_session_running(
    socket_name: str, tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _session(socket_name, "tc-other", tmp_path, env, monkeypatch)
    screen = tmp_path / "screen.txt"
    assert session.close("tc-other", "0123456789ab-0000000000000000", screen) is False
    assert "SCREEN-MARK" in screen.read_text()
    assert _alive(socket_name, "tc-other", env)
