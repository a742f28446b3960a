"""Agent sessions on the project's own tmux socket (`tmux -L <socket>`), through libtmux.

Sessions are started by scripts/tmux/launch_session.sh (argv, remain-on-exit, pipe-pane) and then
observed and driven here: liveness, paste-buffer prompts, Enter, capture, kill.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from hatchdoit.agents.tmux_socket import socket_may_exist
from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.proc import run
from hatchdoit.core.redaction import redact_file
from hatchdoit.core.step_imports import import_in_step
from hatchdoit.core.testing_faults import fault_point

_ESCAPES = {"_": "__", ".": "_d", ":": "_c"}
_UNSAFE = re.compile(r"[^A-Za-z0-9-]")


def session_name(tag: str, tid: str, role: str, attempt: int) -> str:
    """`<project tag>-<TaskSpec id>-<role>-<attempt>`, in [A-Za-z0-9_-] (tmux reads '.' and ':'
    as target separators). The id is escaped one to one (`_` as `__`, `.` as `_d`, any other
    character as `_x<hex>`), so two ids never share a session."""
    escaped = _UNSAFE.sub(lambda m: _ESCAPES.get(m[0]) or f"_x{ord(m[0]):x}_", tid)
    return f"{tag}-{escaped}-{role}-{attempt}"


TOKEN_OPTION = "@hatchdoit_token"  # the session's run token: which launch of which project
CAPTURE_LINES = 2000  # of history, with the screen (capture_output.sh's default)
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")  # as hatchdoit makes them: safe in a tmux format


@dataclass(frozen=True)
class PaneState:
    dead: bool
    pid: int | None
    exit_status: int | None
    token: str  # the session's TOKEN_OPTION; "" when it has none (not made by hatchdoit)


class Tmux:
    """One tmux server, private to the project."""

    def __init__(self, socket: str, scripts_dir: Path) -> None:
        self.socket = socket
        self.scripts_dir = scripts_dir

    @cached_property
    def server(self) -> Any:
        """libtmux's Server on the socket; libtmux is imported here, at first use, which is
        after the launch (step_imports.py says why)."""
        return import_in_step("libtmux").Server(socket_name=self.socket)

    def _server_cmd(self, *args: str) -> Any | None:
        """server.cmd(*args); None when libtmux could not run tmux at all."""
        server = self.server
        try:
            return server.cmd(*args)
        except import_in_step("libtmux.exc").LibTmuxException:
            return None

    def launch(
        self, name: str, *, cwd: Path, argv: list[str], log: Path | None, token: str, tid: str
    ) -> None:
        """Start session `name` running argv, tagged with `token`. No environment goes on the
        command line: the launcher reads the session's from a file (agent_env.py)."""
        cmd: list[str | Path] = [
            self.scripts_dir / "tmux" / "launch_session.sh",
            "--socket",
            self.socket,
            "--session",
            name,
            "--cwd",
            cwd,
            "--option",
            f"{TOKEN_OPTION}={token}",
        ]
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--log", log]
        fault_point("launch.before_tmux", tid)
        try:
            run([*cmd, "--", *argv], operation="launch_session")
        except StepError as exc:  # launch_session.sh refuses a name taken: whose is it?
            if "exists" in str(exc) and self.pane_state(name) is not None:
                raise self.foreign(name, tid) from exc
            raise
        fault_point("launch.after_tmux", tid)

    def foreign(self, name: str, tid: str) -> StepError:
        """The error for session `name` when no launch of this build made it."""
        return StepError(
            f"tmux session {name} on socket {self.socket} was not made by this build",
            taskspec_id=tid,
            operation="launch",
            fix=f"end it if it is stale: tmux -L {self.socket} kill-session -t ={name}",
        )

    def _cmd(self, *args: str) -> list[str]:
        server = self.server
        try:
            result = server.cmd(*args)
        except import_in_step("libtmux.exc").LibTmuxException as exc:
            raise StepError(f"tmux {args[0]} failed: {exc}", operation=f"tmux {args[0]}") from exc
        if result.stderr:
            raise StepError(
                f"tmux {args[0]} failed: {' '.join(result.stderr)}", operation=f"tmux {args[0]}"
            )
        return list(result.stdout)

    def pane_state(self, name: str) -> PaneState | None:
        """None when the session does not exist (or the server is gone)."""
        if not socket_may_exist(self.socket):
            return None
        # tmux 3.3 answers a target that does not exist with empty fields, not an error: the
        # session's own name says whether it was found.
        shown = (
            f"#{{session_name}} #{{pane_dead}} #{{pane_pid}} #{{pane_dead_status}} "
            f"#{{{TOKEN_OPTION}}}"
        )
        result = self._server_cmd("display-message", "-p", "-t", f"={name}:", shown)
        if result is None or result.stderr or not result.stdout:
            return None
        parts = result.stdout[0].split(" ")
        if parts[0] != name or len(parts) < 5:
            return None
        dead = parts[1] == "1"
        pid = int(parts[2]) if parts[2].isdigit() else None
        status = int(parts[3]) if parts[3].lstrip("-").isdigit() else None
        return PaneState(dead=dead, pid=pid, exit_status=status, token=parts[4])

    def alive(self, name: str, token: str) -> bool:
        """Whether session `name` runs, and is the launch that `token` names."""
        state = self.pane_state(name)
        return state is not None and not state.dead and state.token == token

    def paste_file(self, name: str, path: Path) -> None:
        """Paste a file's bytes with bracketed paste (-p), keeping newlines as they are (-r)."""
        # One tmux process for both (`;` separates tmux commands). tmux runs the paste even when
        # the load failed, so each paste has a buffer name of its own: it can never find an old
        # buffer of that name to paste instead (and the failed load is still raised).
        buffer = f"hd-{name}-{secrets.token_hex(4)}"
        self._cmd(
            "load-buffer", "-b", buffer, str(path), ";",
            "paste-buffer", "-p", "-r", "-d", "-b", buffer, "-t", f"={name}:",
        )  # fmt: skip

    def press_enter(self, name: str) -> None:
        self._cmd("send-keys", "-t", f"={name}:", "Enter")

    def capture(self, name: str, out: Path) -> bool:
        """Save the screen and history; False if the session is gone."""
        done = run(
            [
                self.scripts_dir / "tmux" / "capture_output.sh",
                "--socket",
                self.socket,
                "--session",
                name,
                "--out",
                out,
            ],
            check=False,
            operation="capture_output",
        )
        if done.returncode != 0:
            return False
        redact_file(out)
        return True

    def close(self, name: str, token: str, screen: Path) -> bool:
        """Save session `name`'s screen and history to `screen` (redacted), then end the session
        if it is the launch `token` names (a session of any other launch is left running). One
        tmux process (display-message; capture-pane; if-shell -F ... kill-session) where
        capture() then kill() ran five (capture_output.sh, its mv, display-message,
        kill-session). True if no such session is left, as kill() answers."""
        if not _SAFE_TOKEN.match(token):
            self.capture(name, screen)
            return self.kill(name, token)
        if not socket_may_exist(self.socket):
            return True
        target = f"={name}:"
        shown = f"#{{session_name}} #{{{TOKEN_OPTION}}}"
        ours = f"#{{==:#{{{TOKEN_OPTION}}},{token}}}"
        result = self._server_cmd(
            "display-message", "-p", "-t", target, shown, ";",
            "capture-pane", "-p", "-J", "-S", f"-{CAPTURE_LINES}", "-t", target, ";",
            "if-shell", "-F", "-t", target, ours, f"kill-session -t ={name}",
        )  # fmt: skip
        if result is None or not result.stdout:
            return True
        first, *lines = [str(line) for line in result.stdout]
        found, _, tag = first.partition(" ")
        if found != name:  # tmux 3.3 shows empty fields for a session that does not exist
            return True
        write_atomic(screen, "".join(f"{line}\n" for line in lines))
        redact_file(screen)
        return tag == token

    def kill(self, name: str, token: str) -> bool:
        """End session `name` if it is the launch that `token` names; a session of any other
        launch or project is left alone. True if no such session is left."""
        state = self.pane_state(name)  # None without a server: nothing to kill
        if state is None:
            return True
        if state.token != token:
            return False
        self._server_cmd("kill-session", "-t", f"={name}")  # an error: already gone
        return True
