"""Shared fixtures and helpers of the integration tests, which run real `doit` processes.

The `project` fixture gives each test a temp hatchdoit project (tests/projects.py: project
directory, planning repo, seed, clean environment) with its own tmux server, killed at teardown
so no agent session outlives a test. The helpers below run `doit` in it and read what it wrote.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from projects import HatchProject, doit_executable, make_project

from hatchdoit.records.audit import read_audit as _read_audit_file

T = TypeVar("T")

# The suite runs as `.venv/bin/python -m pytest`, with no virtualenv activated: the programs the
# tests start (doit, `python3` in test commands and hooks, pipx and uv) must be this
# interpreter's, found first on PATH, not whatever python3 the system has.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

# In CI a landing should depend on the commit alone, so there the property tests draw the same
# examples on every run (seeded from each test's name). Elsewhere they draw new ones each run,
# and a failing example is kept in .hypothesis/ and replayed until it passes.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Bytecode for the package, as an installed one has it (pip compiles at install): the
    tests' processes run with PYTHONDONTWRITEBYTECODE (tests/projects.py), and without .pyc
    files every doit, agent and stop-hook process compiled the sources again (about 0.25 s of
    each doit process's start). Compiling them cannot change what the code does."""
    import hatchdoit

    compileall.compile_dir(Path(hatchdoit.__file__).parent, quiet=1)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[HatchProject]:
    """A fresh temp project with its own tmux server, killed at teardown."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    made = make_project(tmp_path)
    try:
        yield made
    finally:
        made.tmux("kill-server")
        shutil.rmtree(made.env["TMUX_TMPDIR"], ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Running and reading


def run_doit(
    project: HatchProject, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `doit ARGS` in the project (real process, captured output)."""
    return subprocess.run(
        [doit_executable(), *args],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def popen_doit(
    project: HatchProject, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start `doit ARGS` in the background, its output going to a file (pipes can fill) that
    doit_output() reads."""
    out = project.root.parent / f"doit-{uuid.uuid4().hex[:6]}.out"
    handle = open(out, "w", encoding="utf-8")  # noqa: SIM115  (kept open by the child)
    try:
        proc = subprocess.Popen(
            [doit_executable(), *args],
            cwd=project.root,
            env=project.env if env is None else env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
    finally:
        handle.close()
    out.rename(out.with_name(f"doit-{proc.pid}.out"))  # the child writes on: same file
    return proc


def doit_output(project: HatchProject, proc: subprocess.Popen[str]) -> str:
    """What a popen_doit process has printed so far (stdout and stderr)."""
    return (project.root.parent / f"doit-{proc.pid}.out").read_text(encoding="utf-8")


@contextmanager
def background_doit(
    project: HatchProject, *args: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """popen_doit for the length of a block: SIGKILLed at its end if the test did not end it."""
    proc = popen_doit(project, *args, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def read_audit(project: HatchProject) -> list[dict[str, Any]]:
    return _read_audit_file(project.layout.audit)


def events(project: HatchProject, name: str, **match: Any) -> list[dict[str, Any]]:
    """Audit events called `name` whose fields equal `match`."""
    return [
        e
        for e in read_audit(project)
        if e.get("event") == name and all(e.get(k) == v for k, v in match.items())
    ]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_log(project: HatchProject, component: str) -> list[dict[str, Any]]:
    path = project.layout.component_log(component)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root (relative path -> hash), symlinks by their target."""
    hashes: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            hashes[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            hashes[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            hashes[rel] = "dir"
    return hashes


def retry_until(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll `probe` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout:.0f}s: {what or probe}")
        time.sleep(interval)


def assert_logs_parse(project: HatchProject) -> None:
    """Every JSON file under _logs parses, and every line of every .jsonl file parses."""
    bad: list[str] = []
    for path in sorted(project.logs.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue  # temp files of atomic writes start with '.', as do doit's own db files
        if path.suffix == ".json":
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                bad.append(f"{path}: {exc}")
        elif path.suffix == ".jsonl":
            text = path.read_text(encoding="utf-8")  # not splitlines(): U+2028 is valid in JSON
            for n, line in enumerate(text.removesuffix("\n").split("\n") if text else [], 1):
                try:
                    json.loads(line)
                except ValueError as exc:
                    bad.append(f"{path}:{n}: {exc}")
    assert not bad, "partial artifacts:\n" + "\n".join(bad)
