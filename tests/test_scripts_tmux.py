"""scripts/tmux/: launch_session.sh (argv run literally, env, cwd, size, pane log, dead pane
kept, duplicates and bad arguments refused, a server exiting under it retried) and
capture_output.sh, on a real tmux server with a private socket per test; both accept exactly
the session names hatchdoit makes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from script_harness import (
    CAPTURE,
    LAUNCH,
    env,
    launch,
    needs_tmux,
    retry_until,
    run,
    socket_name,
    tmux,
)

from hatchdoit.agents.tmux import session_name

pytestmark = pytest.mark.integration

__all__ = ["env", "socket_name"]  # fixtures


# --- launch_session.sh / capture_output.sh ---------------------------------------------------


def pane_field(socket: str, session: str, field: str, env: dict[str, str]) -> str:
    return tmux(socket, "list-panes", "-t", f"={session}:", "-F", f"#{{{field}}}", env=env).strip()


def dead_status(socket: str, session: str, env: dict[str, str]) -> str:
    """The dead pane's exit status. tmux built with libutempter can miss the SIGCHLD of a
    quickly exiting child (tmux issue #311), so nudge its server until it reaps the child."""
    server_pid = int(tmux(socket, "display-message", "-p", "#{pid}", env=env))
    status = ""

    def reaped() -> bool:
        nonlocal status
        os.kill(server_pid, signal.SIGCHLD)
        status = pane_field(socket, session, "pane_dead_status", env)
        return status != ""

    retry_until(reaped)
    return status


WRITE_ARGV = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"


@needs_tmux
def test_launch_session_runs_argv_literally(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "argv.json"
    tricky = [
        "two words",
        "$(touch pwned)",
        "`touch pwned2`",
        "a;touch pwned3",
        "*",
        "'\"",
        "$HOME",
    ]
    result = launch(
        socket_name, "ts-1", tmp_path, env, "--", sys.executable, "-c", WRITE_ARGV, out, *tricky
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ts-1"
    retry_until(out.exists)
    retry_until(lambda: pane_field(socket_name, "ts-1", "pane_dead", env) == "1")
    assert json.loads(out.read_text()) == tricky
    assert not any(tmp_path.glob("pwned*"))


@needs_tmux
def test_launch_session_single_word_is_not_a_shell_string(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    result = launch(socket_name, "ts-1", tmp_path, env, "--", "touch pwned")
    assert result.returncode == 0, result.stderr
    retry_until(lambda: pane_field(socket_name, "ts-1", "pane_dead", env) == "1")
    assert dead_status(socket_name, "ts-1", env) == "127"  # env: no program named "touch pwned"
    assert not (tmp_path / "pwned").exists()


@needs_tmux
def test_launch_session_sets_options_cwd_and_size_and_passes_no_credential(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """The caller's environment stays with the caller: the tmux server this launch starts,
    and so the pane, get only PATH, HOME, the locale and TMUX_TMPDIR of it. User options
    (hatchdoit's run token) are set by the same tmux call."""
    out = tmp_path / "env.json"
    code = (
        "import json, os, sys; open(sys.argv[1], 'w').write(json.dumps("
        "[sorted(os.environ), os.getcwd()]))"
    )
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    caller = env | {"HD_API_KEY": "sk-not-for-tmux", "HD_OTHER": "x"}
    result = launch(
        socket_name,
        "ts-env",
        workdir,
        caller,
        "--option",
        "@hatchdoit_token=abc-123 x",
        "--width",
        "91",
        "--height",
        "27",
        "--",
        sys.executable,
        "-c",
        code,
        out,
    )
    assert result.returncode == 0, result.stderr
    retry_until(out.exists)
    names, cwd = json.loads(out.read_text())
    assert cwd == str(workdir.resolve())
    assert "HD_API_KEY" not in names and "HD_OTHER" not in names
    assert {"PATH", "HOME", "TMUX_TMPDIR", "TERM", "TMUX"} <= set(names)
    assert pane_field(socket_name, "ts-env", "@hatchdoit_token", env) == "abc-123 x"
    assert pane_field(socket_name, "ts-env", "window_width", env) == "91"
    assert pane_field(socket_name, "ts-env", "window_height", env) == "27"
    shown = subprocess.run(
        ["tmux", "-L", socket_name, "show-environment", "-g"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "sk-not-for-tmux" not in shown and "HD_OTHER" not in shown


@needs_tmux
def test_launch_session_logs_pane_output(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    log = tmp_path / "logs dir" / "it's a log.txt"
    result = launch(
        socket_name,
        "ts-log",
        tmp_path,
        env,
        "--log",
        log,
        "--",
        sys.executable,
        "-c",
        "print('hello-from-pane')",
    )
    assert result.returncode == 0, result.stderr
    retry_until(lambda: log.exists() and "hello-from-pane" in log.read_text())


@needs_tmux
def test_launch_session_keeps_dead_pane(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    result = launch(
        socket_name,
        "ts-dead",
        tmp_path,
        env,
        "--",
        sys.executable,
        "-c",
        "print('last words'); raise SystemExit(7)",
    )
    assert result.returncode == 0, result.stderr
    retry_until(lambda: pane_field(socket_name, "ts-dead", "pane_dead", env) == "1")
    assert dead_status(socket_name, "ts-dead", env) == "7"
    out = tmp_path / "dead.txt"
    assert (
        run(
            CAPTURE, "--socket", socket_name, "--session", "ts-dead", "--out", out, env=env
        ).returncode
        == 0
    )
    assert "last words" in out.read_text()  # tmux scrolls it into history when the pane dies


@needs_tmux
def test_launch_session_refuses_duplicate(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    first = launch(socket_name, "ts-dup", tmp_path, env, "--", "sleep", "30")
    assert first.returncode == 0, first.stderr
    pid = pane_field(socket_name, "ts-dup", "pane_pid", env)
    second = launch(socket_name, "ts-dup", tmp_path, env, "--", "sleep", "31")
    assert second.returncode == 1
    assert "session ts-dup exists" in second.stderr
    assert pane_field(socket_name, "ts-dup", "pane_pid", env) == pid
    # a session whose name merely starts the same is a different session
    assert launch(socket_name, "ts-du", tmp_path, env, "--", "sleep", "30").returncode == 0


def flaky_tmux(tmp_path: Path, env: dict[str, str], failures: int, message: str) -> Path:
    """A `tmux` first on PATH that fails its first `failures` calls as tmux does when its server
    exits under the client, then runs the real tmux; returns the file counting the calls."""
    real = subprocess.run(["sh", "-c", "command -v tmux"], env=env, capture_output=True, text=True)
    calls = tmp_path / "tmux-calls"
    wrapper = tmp_path / "flaky-bin" / "tmux"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        f'echo call >> "{calls}"\n'
        f'if [ "$(wc -l < "{calls}")" -le {failures} ]; then echo "{message}" >&2; exit 1; fi\n'
        f'exec "{real.stdout.strip()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    env["PATH"] = f"{wrapper.parent}{os.pathsep}{env['PATH']}"
    return calls


@needs_tmux
@pytest.mark.parametrize(
    ("failures", "message", "code", "calls"),
    [
        (2, "server exited unexpectedly", 0, 3),
        (3, "server exited unexpectedly", 1, 3),
        (1, "open terminal failed: not a terminal", 1, 1),
    ],
    ids=["exiting-server-then-ok", "exiting-server-every-time", "other-error-not-retried"],
)
def test_launch_session_retries_a_server_that_exits_under_it(
    socket_name: str,
    tmp_path: Path,
    env: dict[str, str],
    failures: int,
    message: str,
    code: int,
    calls: int,
) -> None:
    """A server exits when its last session closes; a new session asked for in that instant
    (another TaskSpec's agent, in `doit -n`) failed with 'server exited unexpectedly'."""
    counted = flaky_tmux(tmp_path, env, failures, message)
    done = launch(socket_name, "ts-retry", tmp_path, env, "--", "sleep", "30")
    assert done.returncode == code, done.stderr
    assert len(counted.read_text().splitlines()) == calls
    if code == 0:
        assert done.stdout == "ts-retry\n"
        assert pane_field(socket_name, "ts-retry", "pane_current_command", env) == "sleep"
    else:
        assert done.stderr.count("\n") == 1 and message in done.stderr


@needs_tmux
@pytest.mark.parametrize(
    "args",
    [
        ["--session", "bad name", "--", "true"],
        ["--session", "a:b", "--", "true"],
        ["--session", "ok", "--option", "nope=x", "--", "true"],
        ["--session", "ok", "--option", "@NOEQUALS", "--", "true"],
        ["--session", "ok", "--env", "A=b", "--", "true"],
        ["--session", "ok", "--width", "0", "--", "true"],
        ["--session", "ok", "--height", "abc", "--", "true"],
        ["--session", "ok"],
        ["--session", "ok", "--", "A=b"],
        ["--session", "ok", "sleep", "1"],
    ],
)
def test_launch_session_validates_arguments(
    socket_name: str, tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    result = run(LAUNCH, "--socket", socket_name, "--cwd", tmp_path, *args, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("launch_session.sh: error: ")
    probe = subprocess.run(
        ["tmux", "-L", socket_name, "list-sessions"], env=env, capture_output=True
    )
    assert probe.returncode != 0  # no server was started, so no session exists


@needs_tmux
def test_capture_output_writes_screen(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    code = (
        "import time; [print(f'line-{i}') for i in range(100)]; "
        "print('SCREEN-MARK', flush=True); time.sleep(30)"
    )
    launch(socket_name, "ts-cap", tmp_path, env, "--", sys.executable, "-c", code)
    retry_until(
        lambda: "SCREEN-MARK" in tmux(socket_name, "capture-pane", "-p", "-t", "=ts-cap:", env=env)
    )
    out = tmp_path / "captures" / "screen.txt"
    result = run(CAPTURE, "--socket", socket_name, "--session", "ts-cap", "--out", out, env=env)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "SCREEN-MARK" in text and "line-0" in text  # history beyond the 50-line screen
    assert [p.name for p in out.parent.iterdir()] == ["screen.txt"]
    short = run(
        CAPTURE,
        "--socket",
        socket_name,
        "--session",
        "ts-cap",
        "--out",
        out,
        "--lines",
        "0",
        env=env,
    )
    assert short.returncode == 0
    assert "SCREEN-MARK" in out.read_text() and "line-0" not in out.read_text()


@needs_tmux
def test_capture_output_missing_session(
    socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "screen.txt"
    result = run(CAPTURE, "--socket", socket_name, "--session", "nope", "--out", out, env=env)
    assert result.returncode == 1
    assert "no session nope" in result.stderr
    assert not out.exists()
    bad = run(
        CAPTURE,
        "--socket",
        socket_name,
        "--session",
        "nope",
        "--out",
        out,
        "--lines",
        "-5",
        env=env,
    )
    assert bad.returncode == 2


def refuses_session(script: Path, name: str, socket: str, tmp: Path, env: dict[str, str]) -> bool:
    """Whether `script` refuses --session NAME; an accepted name fails later without a session:
    capture_output.sh finds no such session (1), launch_session.sh rejects --width 0."""
    if script == CAPTURE:
        result = run(script, "--socket", socket, "--session", name, "--out", tmp / "s", env=env)
        assert result.returncode in (1, 2), result.stderr
        return result.returncode == 2
    result = run(
        script,
        "--socket",
        socket,
        "--session",
        name,
        "--cwd",
        tmp,
        "--width",
        "0",
        "--",
        "true",
        env=env,
    )
    assert result.returncode == 2, result.stderr
    return "invalid --session" in result.stderr


@needs_tmux
@pytest.mark.parametrize("script", [LAUNCH, CAPTURE], ids=lambda p: p.name)
def test_session_names_follow_hatchdoits_rule(
    script: Path, socket_name: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """The scripts accept exactly [A-Za-z0-9_-], and no leading '-' (nothing tmux would rewrite
    or read as an option); every name hatchdoit.agents.tmux.session_name makes is accepted."""
    for char in map(chr, range(1, 128)):
        raw = f"A{char}B"
        safe = char.isascii() and (char.isalnum() or char in "_-")
        refused = refuses_session(script, raw, socket_name, tmp_path, env)
        assert refused != safe, f"{script.name}: {raw!r} refused={refused}"
        made = session_name("0a1b2c3d", raw, "factory", 1)
        assert not refuses_session(script, made, socket_name, tmp_path, env), made
    for name in ("-rf", "--force", "-"):
        assert refuses_session(script, name, socket_name, tmp_path, env), name
