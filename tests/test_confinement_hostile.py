"""A hostile agent (the `generic` profile wrapping tests/hostile_agent.py) and the test code it
wrote (run by hatchdoit as the TaskSpec's test_command) try everything of escape_attempts.py
under confinement: every attempt fails inside the sandbox, no listener on the machine hears
from them, the planted secret is in no file under _logs/ and in no commit, another TaskSpec's
branch stays where it was and the target repo's objects are whole (`git fsck`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_records import TID
from confinement_support import need_srt
from conftest import run_doit
from projects import HatchProject

from hatchdoit.confinement.srt import SRT_ENV
from hatchdoit.run.gitops import ensure_repo

pytestmark = pytest.mark.integration
TESTS = Path(__file__).resolve().parent


class Listener:
    """A server socket on a thread that records every connection it accepts."""

    def __init__(self, server: socket.socket) -> None:
        self.server = server
        self.heard: list[bytes] = []
        server.listen(8)
        server.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.heard.append(conn.recv(100) or b"(connected)")
                except OSError:
                    self.heard.append(b"(connected)")

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture
def listeners() -> Iterator[tuple[Listener, Listener, str]]:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    sock_dir = tempfile.mkdtemp(prefix="hds-")
    path = os.path.join(sock_dir, "agent.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(path)
    made = Listener(tcp), Listener(unix), path
    try:
        yield made
    finally:
        made[0].close()
        made[1].close()
        os.unlink(path)
        os.rmdir(sock_dir)


def _results(text: str) -> dict[str, str]:
    return dict(json.loads(text[text.index("{") : text.rindex("}") + 1]))


OTHER = "taskspec/T000-OTHER"  # another TaskSpec's branch in the target repo


def _target_git(project: HatchProject, *args: str) -> str:
    target = project.root / "_target"
    return subprocess.run(
        ["git", "-C", str(target), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _plant_git_targets(project: HatchProject) -> tuple[str, Path]:
    """Another TaskSpec's branch (on a commit of its own) and an unreachable victim object in
    the target repo: (the branch's commit, the victim's file)."""
    tree = _target_git(project, "rev-parse", "HEAD^{tree}")
    other = _target_git(project, "commit-tree", tree, "-p", "HEAD", "-m", "other TaskSpec")
    _target_git(project, "update-ref", f"refs/heads/{OTHER}", other)
    blob = subprocess.run(
        ["git", "-C", str(project.root / "_target"), "hash-object", "-w", "--stdin"],
        input=f"victim {uuid.uuid4().hex}\n", capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return other, project.root / "_target" / ".git" / "objects" / blob[:2] / blob[2:]


def _hostile_build(
    project: HatchProject, listeners: tuple[Listener, Listener, str], mode: str, wreck: str = ""
) -> tuple[str, dict[str, str], dict[str, str], subprocess.CompletedProcess[str]]:
    """Plant the secret, build the hostile TaskSpec under `confinement: mode`; (secret, the
    agent's results, its tests' results, doit's run)."""
    tcp, _, sock_path = listeners
    secret = f"hatchdoit-secret-{uuid.uuid4().hex}"
    home = Path(project.env["HOME"])
    (home / ".ssh").mkdir(mode=0o700)
    (home / ".ssh" / "id_ed25519").write_text(secret + "\n", encoding="utf-8")
    header = f"AUTHORIZATION: bearer {secret}"  # as CI's checkout keeps its token
    ensure_repo(project.root / "_target", project.seed)  # as the build makes it
    git_config = ["git", "-C", str(project.root / "_target"), "config"]
    subprocess.run([*git_config, "http.https://example.com/.extraheader", header], check=True)
    _, victim = _plant_git_targets(project)
    uid = os.getuid()
    tmux_socket = Path(project.env["TMUX_TMPDIR"]) / f"tmux-{uid}" / project.socket
    project.env.update(
        {
            SRT_ENV: str(need_srt()),
            "HOSTILE_PORT": str(tcp.server.getsockname()[1]),
            "HOSTILE_TMUX_SOCKET": str(tmux_socket),
            "SSH_AUTH_SOCK": sock_path,
            "HOSTILE_OTHER": OTHER,
            "HOSTILE_VICTIM": str(victim),
            "HOSTILE_WRECK": wreck,
        }
    )
    command = [
        sys.executable,
        "{agents_dir}/examples/generic_agent.py",
        "--",
        sys.executable,
        str(TESTS / "hostile_agent.py"),
    ]
    project.configure(
        agents={"factory": "generic", "qa": "generic"},
        agent_params={"generic": {"command": command}},
        confinement={"mode": mode},
    )
    project.add_taskspec(
        TID,
        body="Do the task.",
        max_attempts=1,
        test_command="python3 escape_check.py escape_targets.json tests",
    )
    done = run_doit(project, timeout=180)
    worktree = project.layout.worktree(TID)
    agent = json.loads((worktree / "agent_attempts.json").read_text(encoding="utf-8"))
    tests = _results(project.layout.checks_log(TID, 1).read_text(encoding="utf-8"))
    return secret, agent, tests, done


def test_hostile_agent_and_its_tests_escape_nothing(
    project: HatchProject, listeners: tuple[Listener, Listener, str]
) -> None:
    tcp, unix, _ = listeners
    secret, agent, tests, done = _hostile_build(project, listeners, "required", wreck="all")
    home = Path(project.env["HOME"])
    assert set(agent) == set(tests) and len(agent) == 10, (agent, tests)
    escaped = {k: v for k, v in {**agent, **tests}.items() if not v.startswith("blocked")}
    assert not escaped, (escaped, done.stdout, done.stderr)
    assert (tcp.heard, unix.heard) == ([], []), "a listener on the machine was reached"
    assert sorted(p.name for p in home.glob("pwned*")) == []
    assert not list(project.layout.state_dir(TID).glob("forged*"))
    audit = project.layout.audit.read_text(encoding="utf-8")
    assert "forged" not in audit
    # both agents' stops, audited by hatchdoit from its validated copies (steps/run_output.py)
    assert audit.count('"event": "agent_stop"') == 2
    for path in project.logs.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    history = subprocess.run(
        ["git", "log", "-p", "--all"],
        cwd=project.root / "_target",
        env=project.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert secret not in history
    subjects = subprocess.run(
        ["git", "log", "--format=%s", f"taskspec/{TID}"],
        cwd=project.root / "_target", capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert "hostile agent" in subjects  # the agent's own `git add -A` and commit worked
    # another TaskSpec's branch is where it was, and every object of the target is whole
    other = subprocess.run(
        ["git", "log", "-1", "--format=%s", OTHER],
        cwd=project.root / "_target", capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert other == "other TaskSpec"
    fsck = subprocess.run(
        ["git", "fsck", "--full", "--no-dangling"],
        cwd=project.root / "_target", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stderr


def test_unconfined_the_same_agent_escapes(
    project: HatchProject, listeners: tuple[Listener, Listener, str]
) -> None:
    """The control: with `confinement: off` the attempts succeed (so the test above can fail)."""
    tcp, unix, _ = listeners
    secret, agent, tests, _ = _hostile_build(project, listeners, "off")
    for results in (agent, tests):
        assert results["read_ssh_key"] == f"ESCAPED: {secret}\n", results
        assert results["write_home"].startswith("ESCAPED"), results
        assert results["tcp_localhost"].startswith("ESCAPED"), results
        assert results["read_git_token"].endswith(secret), results
    assert agent["ssh_agent_socket"].startswith("ESCAPED"), agent
    assert agent["write_state"].startswith("ESCAPED"), agent
    assert agent["tmux_server"].startswith("ESCAPED"), agent
    assert agent["wreck_objects"] == "ESCAPED: unlink victim", agent  # the target was writable
    # ... but not even unconfined does a move in its own clone move the target's branch
    assert agent["move_other_branch"].startswith("blocked"), agent
    assert tcp.heard and unix.heard
