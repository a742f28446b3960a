"""Two builds on one machine at the same time: two clones of the demo (two checkouts of one
project, two CI jobs on one runner). Each gets its own tmux server by default (a socket named
after its root), and where both are told to share one server their sessions still never meet:
session names carry the project's tag, and a session is ended only by the launch that made it.
Both builds finish, with no escalation. Real doit, git, tmux and the scripted agent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import git
from projects import doit_executable, isolated_env
from test_demo import copy_checkout, demo_ids

from hatchdoit.layout import Layout

pytestmark = pytest.mark.integration


def clone(tmp: Path, name: str, env: dict[str, str]) -> Path:
    root = tmp / name / "hatchdoit"
    copy_checkout(root)
    git(root, "init", "-q", env=env)
    git(root, "add", "-A", env=env)
    git(root, "commit", "-q", "-m", "checkout", env=env)
    return root


def machine_env(tmp: Path) -> dict[str, str]:
    return isolated_env(tmp / "home")


def build_both(roots: list[Path], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """`doit -n 2` in every root at once; what each printed."""
    procs = [
        subprocess.Popen(
            [doit_executable(), "-n", "2"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for root in roots
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    return [
        subprocess.CompletedProcess(p.args, p.returncode, out, "")
        for p, out in zip(procs, outputs, strict=True)
    ]


def assert_done(root: Path, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{root}:\n{done.stdout}"
    layout = Layout(root)
    for tid in demo_ids(root):
        assert layout.done(tid).is_file(), (root, tid, done.stdout)
        assert not layout.escalated(tid).exists(), (root, tid)


def kill_servers(env: dict[str, str], sockets: set[str]) -> None:
    for socket in sockets:
        subprocess.run(["tmux", "-L", socket, "kill-server"], env=env, capture_output=True)
    shutil.rmtree(env["TMUX_TMPDIR"], ignore_errors=True)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    return machine_env(tmp_path)


def test_two_clones_build_at_once_each_on_its_own_server(
    tmp_path: Path, env: dict[str, str]
) -> None:
    roots = [clone(tmp_path, name, env) for name in ("a", "b")]  # same folder name: hatchdoit
    sockets = {Layout(root).default_socket for root in roots}
    assert len(sockets) == 2 and all(s.startswith("hatchdoit-hatchdoit-") for s in sockets)
    try:
        for root, done in zip(roots, build_both(roots, env), strict=True):
            assert_done(root, done)
    finally:
        kill_servers(env, sockets)


def test_two_clones_sharing_one_server_never_touch_each_others_sessions(
    tmp_path: Path, env: dict[str, str]
) -> None:
    roots = [clone(tmp_path, name, env) for name in ("a", "b")]
    shared = env | {"HATCHDOIT__TMUX_SOCKET": "hd-shared-test"}
    try:
        for root, done in zip(roots, build_both(roots, shared), strict=True):
            assert_done(root, done)
        launches = [
            path.read_text()
            for root in roots
            for path in (root / "_logs" / "state").rglob("*.launch.json")
        ]
        tags = {Layout(root).tag for root in roots}
        assert len(tags) == 2
        for tag in tags:  # each project's sessions, and only its own, carry its tag
            assert any(f'"session": "{tag}-' in text for text in launches)
    finally:
        kill_servers(shared, {"hd-shared-test"})
