"""Running a test command as the orchestrator does, for the checks and after an integration's
merge: an argv (never a shell string) in a working tree, its output into a log file (secrets
redacted), its exit code, pass/fail counts when pytest or unittest printed them, its duration.
On a timeout the whole process group is killed, so no child outlives the limit.

A test command is code an agent wrote: it runs with a scrubbed environment, not hatchdoit's
(which holds the agents' credentials). It gets the variables of TEST_ENV (the system's basics),
never one whose name says it is a credential, and those `checks.env_passthrough` names; then
the workspace's environment (run/workspace_files.py): its `workspace.path` first on PATH, its
own venv in place of the user's."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from hatchdoit.config.workspace_models import ConfinementConfig, WorkspaceConfig
from hatchdoit.confinement.wrap import confined_command
from hatchdoit.core.logs import looks_secret
from hatchdoit.core.redaction import redact_file
from hatchdoit.layout import Layout
from hatchdoit.records.models import TestRun
from hatchdoit.run.workspace_files import workspace_environ

# What a test command gets of hatchdoit's environment (NAME, or PREFIX* for every name with it).
TEST_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "LANG", "LANGUAGE", "LC_*",
    "TMPDIR", "TEMP", "TMP", "CI", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
    "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
)  # fmt: skip
_PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors)\b")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests?", re.MULTILINE)
_UNITTEST_FAILED = re.compile(r"^FAILED \((.*)\)", re.MULTILINE)


def count_tests(output: str) -> tuple[int | None, int | None]:
    """(passed, failed) from pytest's or unittest's closing lines; None where not found."""
    ran = _UNITTEST_RAN.findall(output)
    if ran:
        total = int(ran[-1])
        failed = 0
        bad = _UNITTEST_FAILED.findall(output)
        if bad:
            failed = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d+)", bad[-1]))
        return total - failed, failed
    counts: dict[str, int] = {}
    for number, word in _PYTEST_COUNTS.findall(output):
        key = "passed" if word == "passed" else "failed"
        counts[key] = counts.get(key, 0) + int(number)
    if counts:
        return counts.get("passed", 0), counts.get("failed", 0)
    return None, None


def test_env(passthrough: list[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a test command (see the module's docstring)."""
    source = os.environ if environ is None else environ
    return {
        name: value
        for name, value in source.items()
        if (_named(name, TEST_ENV) and not looks_secret(name)) or _named(name, passthrough)
    }


def _named(name: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def run_into_log(
    command: list[str],
    cwd: Path,
    timeout: float,
    log_path: Path,
    env: dict[str, str],
    mode: str = "w",
) -> int | None:
    """Run `command` with stdout and stderr into `log_path` (appended to with mode "a"); its
    exit code, None on timeout."""
    with open(log_path, mode, encoding="utf-8") as log:
        try:
            child = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a timeout ends all of it
            )
        except OSError as exc:
            log.write(f"hatchdoit: cannot run {command[0]}: {exc}\n")
            return 127
        try:
            return child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            return None
        except BaseException:  # interrupted: the tests must not outlive the build
            _kill_group(child)
            raise


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def run_test_command(
    command: list[str],
    cwd: Path,
    timeout: float,
    log_path: Path,
    layout: Layout,
    passthrough: list[str],
    workspace: WorkspaceConfig | None = None,
    confinement: ConfinementConfig | None = None,
    target: Path | None = None,
) -> TestRun:
    """Run `command` in `cwd` within `timeout` seconds, its output into `log_path`, with the
    scrubbed environment plus the `passthrough` variables, as `workspace` sets it up; under this
    build's `confinement` (confinement/wrap.py) when given, `target`'s `.git/config` hidden."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    label = None
    env = test_env(passthrough)
    if workspace is not None:
        env = workspace_environ(workspace, cwd, env)
    try:
        off = ConfinementConfig(mode="off")
        with confined_command(command, cwd, confinement or off, target=target) as run:
            label = run.label if confinement is not None else None
            exit_code = run_into_log(run.argv, cwd, timeout, log_path, {**env, **run.env})
    finally:  # the tests may print secrets of the environment
        redact_file(log_path)
    passed, failed = count_tests(log_path.read_text(encoding="utf-8", errors="replace"))
    return TestRun(
        command=command,
        exit_code=exit_code,
        passed=passed,
        failed=failed,
        duration_s=round(time.monotonic() - started, 3),
        timed_out=exit_code is None,
        log=layout.rel(log_path),
        confinement=label,
    )
