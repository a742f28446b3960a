"""scripts/agent/: launch_agent.sh and its factory/qa wrappers (the exit file, stdin, signals
forwarded and reported, inside and outside a tmux session, refusing worktrees outside the root)
and monitor_stop_hook.sh (prints the stop file when it appears, or times out)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from script_harness import (
    AGENT,
    FACTORY,
    MONITOR,
    QA,
    env,
    launch,
    needs_tmux,
    retry_until,
    root,
    run,
    socket_name,
    tmux,
)

pytestmark = pytest.mark.integration

__all__ = ["env", "root", "socket_name"]  # fixtures


# --- launch_agent.sh -------------------------------------------------------------------------


def agent_args(role: str, worktree: Path, root: Path, *command: str) -> list[str]:
    """launch_agent.sh's arguments to run `command` as `role` in `worktree` under `root`."""
    return [
        "--role",
        role,
        "--worktree",
        str(worktree),
        "--worktrees-root",
        str(root),
        "--",
        *command,
    ]


def session_env(tmp_path: Path, env: dict[str, str], **entries: str) -> Path:
    """A session's env file as hatchdoit writes it: env and entries, NUL-separated, mode 0600."""
    path = tmp_path / "session.env"
    data = env | entries
    path.write_bytes(b"".join(f"{k}={v}".encode() + b"\0" for k, v in data.items()))
    path.chmod(0o600)
    return path


@pytest.fixture
def worktree(root: Path) -> Path:
    path = root / "001-TS-A"
    path.mkdir(parents=True)
    return path


def test_launch_agent_writes_exit_file(
    worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "hooks" / "factory-1.exit.json"
    code = "import os, sys; open('cwd.txt', 'w').write(os.getcwd()); sys.exit(3)"
    result = run(
        AGENT,
        *agent_args("factory", worktree, root, sys.executable, "-c", code),
        env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
    )
    assert result.returncode == 3
    assert (worktree / "cwd.txt").read_text() == str(worktree.resolve())
    record = json.loads(exit_file.read_text())
    assert record["exit_code"] == 3 and record["role"] == "factory"
    assert time.strptime(record["at"], "%Y-%m-%dT%H:%M:%SZ")
    assert [p.name for p in exit_file.parent.iterdir()] == ["factory-1.exit.json"]


def test_an_env_file_is_the_whole_environment_and_is_deleted(
    worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """With --env-file the agent gets the file's entries (any value, newlines included) and the
    terminal's TERM, and nothing of the launcher's own environment: not a credential, not an
    exported function, not a BASH_ENV that would run first (bash -p)."""
    exit_file = tmp_path / "exit.json"
    env_file = tmp_path / "session" / "session.env"
    env_file.parent.mkdir()
    entries = {
        "PATH": env["PATH"],
        "HATCHDOIT_EXIT_FILE": str(exit_file),
        "HD_VALUE": "two\nlines = $(not run)",
    }
    env_file.write_bytes(b"".join(f"{k}={v}".encode() + b"\0" for k, v in entries.items()))
    env_file.chmod(0o600)
    ran = tmp_path / "bash_env_ran"
    bash_env = tmp_path / "bash_env.sh"
    bash_env.write_text(f"touch {ran}\n")
    out = tmp_path / "seen.json"
    code = f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))"
    outer = env | {
        "HD_API_KEY": "sk-outer",
        "BASH_ENV": str(bash_env),
        "BASH_FUNC_ls%%": "() { echo hijacked; }",
        "TERM": "xterm-test",
    }
    args = agent_args("factory", worktree, root, sys.executable, "-c", code)
    result = subprocess.run(
        ["bash", "-p", str(FACTORY), "--env-file", str(env_file), *args[2:]],
        env=outer,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(out.read_text())
    assert {k: seen[k] for k in entries} == entries
    assert seen["TERM"] == "xterm-test"
    assert not {"HD_API_KEY", "BASH_ENV", "BASH_FUNC_ls%%", "HOME"} & set(seen)
    assert not env_file.exists()
    assert not ran.exists()
    assert json.loads(exit_file.read_text())["exit_code"] == 0


@pytest.mark.parametrize("bad", ["missing", "symlink", "bad entry"])
def test_an_env_file_that_is_not_a_plain_file_of_ours_is_refused(
    worktree: Path, root: Path, tmp_path: Path, env: dict[str, str], bad: str
) -> None:
    real = tmp_path / "real.env"
    real.write_bytes(b"HATCHDOIT_EXIT_FILE=\0")
    env_file = tmp_path / "session.env"
    if bad == "symlink":
        env_file.symlink_to(real)
    elif bad == "bad entry":
        env_file.write_bytes(b"HATCHDOIT_EXIT_FILE=\0NOT A NAME=x\0")
    result = run(
        AGENT,
        "--env-file",
        env_file,
        *agent_args("qa", worktree, root, "true"),
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("launch_agent.sh: error: --env-file")
    assert len(result.stderr.splitlines()) == 1


def _ignore_int_and_quit() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


@pytest.mark.parametrize("inherited_ignored", [False, True])
def test_launch_agent_gives_the_agent_default_int_and_quit(
    inherited_ignored: bool, worktree: Path, root: Path, env: dict[str, str]
) -> None:
    """Started in the background, the launcher inherits SIGINT and SIGQUIT ignored (no trap can
    undo that); the agent must still get both back at their default, so Ctrl-C stops it."""
    code = (  # Python keeps a signal ignored at its start as SIG_IGN (no /proc on macOS)
        "import signal, sys; sys.stdout.write(repr("
        "[signal.getsignal(s) == signal.SIG_IGN for s in (signal.SIGINT, signal.SIGQUIT)]))"
    )
    result = subprocess.run(
        [str(AGENT), *agent_args("qa", worktree, root, sys.executable, "-c", code)],
        env=env | {"HATCHDOIT_EXIT_FILE": ""},
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=_ignore_int_and_quit if inherited_ignored else None,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[False, False]"  # neither SIGINT nor SIGQUIT ignored


@pytest.mark.parametrize(("wrapper", "role"), [(FACTORY, "factory"), (QA, "qa")])
def test_launch_wrappers_set_role(
    wrapper: Path, role: str, worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "exit.json"
    result = run(
        wrapper,
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        "true",
        env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(exit_file.read_text())["role"] == role
    assert json.loads(exit_file.read_text())["exit_code"] == 0


def test_launch_agent_passes_stdin_and_skips_empty_exit_file(
    worktree: Path, root: Path, env: dict[str, str]
) -> None:
    code = "import sys; open('stdin.txt', 'w').write(sys.stdin.read())"
    result = run(
        AGENT,
        *agent_args("qa", worktree, root, sys.executable, "-c", code),
        env=env | {"HATCHDOIT_EXIT_FILE": ""},
        input="the prompt\n",
    )
    assert result.returncode == 0, result.stderr
    assert (worktree / "stdin.txt").read_text() == "the prompt\n"
    assert sorted(p.name for p in worktree.iterdir()) == ["stdin.txt"]


def test_launch_agent_requires_exit_file_variable(
    worktree: Path, root: Path, env: dict[str, str]
) -> None:
    result = run(
        AGENT,
        *agent_args("qa", worktree, root, "touch", "ran"),
        env={k: v for k, v in env.items() if k != "HATCHDOIT_EXIT_FILE"},
    )
    assert result.returncode == 2
    assert "HATCHDOIT_EXIT_FILE" in result.stderr
    assert not (worktree / "ran").exists()


def test_launch_agent_refuses_outside_root(root: Path, tmp_path: Path, env: dict[str, str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "escape").symlink_to(outside)
    exit_file = tmp_path / "exit.json"
    for target in (outside, root / "escape", root / ".." / "outside", root):
        result = run(
            AGENT,
            *agent_args("factory", target, root, "touch", "ran"),
            env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
        )
        assert result.returncode == 4, target
        assert "outside" in result.stderr
    assert not (outside / "ran").exists() and not (root / "ran").exists()
    assert not exit_file.exists()


def start_python_agent(
    role: str, code: str, worktree: Path, root: Path, env: dict[str, str], exit_file: Path
) -> subprocess.Popen[bytes]:
    """launch_agent.sh running `python -c code` in `worktree`; returns once the code wrote the
    file `ready` there."""
    proc = subprocess.Popen(
        [str(AGENT), *agent_args(role, worktree, root, sys.executable, "-c", code)],
        env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
    )
    try:
        retry_until((worktree / "ready").exists)
    except BaseException:
        proc.kill()
        raise
    return proc


@pytest.mark.parametrize("posix", [False, True], ids=["bash", "posix-mode"])
def test_launch_agent_forwards_sigterm(
    posix: bool, worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """In posix mode (POSIXLY_CORRECT) a trapped signal interrupts the script's reads too."""
    if posix:
        env = env | {"POSIXLY_CORRECT": "1"}
    exit_file = tmp_path / "exit.json"
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        "open('ready', 'w').close()\n"
        "time.sleep(30)\n"
    )
    proc = start_python_agent("factory", code, worktree, root, env, exit_file)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 42
    finally:
        proc.kill()
    assert json.loads(exit_file.read_text())["exit_code"] == 42


def test_launch_agent_reports_child_killed_by_hup(
    worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "exit.json"
    code = "import time; open('ready', 'w').close(); time.sleep(30)"
    proc = start_python_agent("qa", code, worktree, root, env, exit_file)
    try:
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=10) == 128 + signal.SIGHUP
    finally:
        proc.kill()
    assert json.loads(exit_file.read_text()) | {"at": ""} == {
        "exit_code": 128 + signal.SIGHUP,
        "at": "",
        "role": "qa",
    }


@needs_tmux
def test_agent_in_tmux_session_records_exit_when_session_killed(
    socket_name: str, worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "hooks" / "factory-1.exit.json"
    code = (
        "import time; open('ready', 'w').close(); open('got', 'w').write(input()); time.sleep(30)"
    )
    result = launch(
        socket_name,
        "ts-agent",
        worktree,
        env,
        "--",
        "bash",
        "-p",
        FACTORY,
        "--env-file",
        session_env(tmp_path, env, HATCHDOIT_EXIT_FILE=str(exit_file)),
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        sys.executable,
        "-c",
        code,
    )
    assert result.returncode == 0, result.stderr
    retry_until((worktree / "ready").exists)
    tmux(socket_name, "send-keys", "-t", "=ts-agent:", "-l", "typed answer", env=env)
    tmux(socket_name, "send-keys", "-t", "=ts-agent:", "Enter", env=env)
    got = worktree / "got"  # the agent's stdin is the pane, not /dev/null
    retry_until(lambda: got.exists() and got.read_text() == "typed answer")
    tmux(socket_name, "kill-session", "-t", "=ts-agent", env=env)
    retry_until(exit_file.exists)
    record = json.loads(exit_file.read_text())
    assert record["role"] == "factory" and record["exit_code"] == 128 + signal.SIGHUP


@needs_tmux
def test_agent_in_tmux_session_stops_on_ctrl_c(
    socket_name: str, worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    exit_file = tmp_path / "qa.exit.json"
    code = "import time; open('ready', 'w').close(); time.sleep(30)"
    launch(
        socket_name,
        "ts-qa",
        worktree,
        env,
        "--",
        "bash",
        "-p",
        QA,
        "--env-file",
        session_env(tmp_path, env, HATCHDOIT_EXIT_FILE=str(exit_file)),
        "--worktree",
        worktree,
        "--worktrees-root",
        root,
        "--",
        sys.executable,
        "-c",
        code,
    )
    retry_until((worktree / "ready").exists)
    tmux(socket_name, "send-keys", "-t", "=ts-qa:", "C-c", env=env)
    retry_until(exit_file.exists)  # SIGINT reached the agent, which the script had not ignored
    assert json.loads(exit_file.read_text())["exit_code"] == 128 + signal.SIGINT


def test_launch_agent_keeps_status_when_agent_dies_before_trap(
    worktree: Path, root: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """Ctrl-C reaches the script and the agent together. When the agent is dead before the script
    handles its own SIGINT, bash's `wait` dropped the status (exit_code -1). Make that order the
    usual one: the script runs at idle priority on a CPU that a busy loop keeps, and repeat."""
    cpu = min(os.sched_getaffinity(0))
    busy = subprocess.Popen(
        [sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"]
    )
    ready = worktree / "ready"
    try:
        for attempt in range(20):
            exit_file = tmp_path / f"exit-{attempt}.json"
            ready.unlink(missing_ok=True)
            proc = subprocess.Popen(
                [
                    str(AGENT),
                    *agent_args("qa", worktree, root, "sh", "-c", ": >ready; exec sleep 30"),
                ],
                env=env | {"HATCHDOIT_EXIT_FILE": str(exit_file)},
                start_new_session=True,  # a process group of its own, as in a tmux pane
            )
            try:
                retry_until(ready.exists)
                os.sched_setaffinity(proc.pid, {cpu})
                os.sched_setscheduler(proc.pid, os.SCHED_IDLE, os.sched_param(0))
                os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the pane does
                assert proc.wait(timeout=10) == 128 + signal.SIGINT, attempt
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            record = json.loads(exit_file.read_text())
            assert record["exit_code"] == 128 + signal.SIGINT, (attempt, record)
    finally:
        busy.kill()
        busy.wait()


def test_launch_agent_validates_arguments(worktree: Path, root: Path, env: dict[str, str]) -> None:
    base = ["--worktree", str(worktree), "--worktrees-root", str(root)]
    env = env | {"HATCHDOIT_EXIT_FILE": ""}
    for args in (
        ["--role", "builder", *base, "--", "true"],
        ["--role", "qa", *base],
        ["--role", "qa", "--worktree", str(worktree), "--", "true"],
        ["--role", "qa", "--role", "factory", *base, "--", "true"],
    ):
        result = run(AGENT, *args, env=env)
        assert result.returncode == 2, args
        assert result.stderr.startswith("launch_agent.sh: error: ")


# --- monitor_stop_hook.sh --------------------------------------------------------------------


def test_monitor_stop_hook_prints_file_when_it_appears(tmp_path: Path, env: dict[str, str]) -> None:
    stop = tmp_path / "hooks" / "factory-1.stop"
    stop.parent.mkdir()
    payload = '{"run_token": "abc", "reason": "stop"}\n'

    def write_later() -> None:
        time.sleep(0.3)
        tmp = stop.with_suffix(".tmp")
        tmp.write_text(payload)
        tmp.replace(stop)

    writer = threading.Thread(target=write_later)
    started = time.monotonic()
    writer.start()
    result = run(MONITOR, "--file", stop, "--timeout", "10", env=env)
    writer.join()
    assert result.returncode == 0, result.stderr
    assert result.stdout == payload
    assert time.monotonic() - started < 5


def test_monitor_stop_hook_times_out(tmp_path: Path, env: dict[str, str]) -> None:
    started = time.monotonic()
    result = run(MONITOR, "--file", tmp_path / "never.stop", "--timeout", "1", env=env)
    assert result.returncode == 124
    assert "timed out" in result.stderr and "never.stop" in result.stderr
    assert 0.9 <= time.monotonic() - started < 5
    assert run(MONITOR, "--file", tmp_path / "x", "--timeout", "soon", env=env).returncode == 2
