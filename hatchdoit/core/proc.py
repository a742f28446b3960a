"""The one helper through which every external command runs: argv lists, never shell strings."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from hatchdoit.core.errors import StepError


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = 120.0,
    operation: str | None = None,
    taskspec_id: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv, capture text output; with `check`, a non-zero exit raises StepError.

    The command runs in a process group of its own: a timeout, or an exception here (Ctrl-C),
    kills the whole group, so no child (git under a script) outlives the lock its caller holds.
    """
    args = [str(a) for a in argv]
    try:
        child = subprocess.Popen(
            args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            process_group=0,
        )
    except OSError as exc:
        raise StepError(
            f"{args[0]} could not run: {exc}", operation=operation, taskspec_id=taskspec_id
        ) from exc
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(child)
        raise StepError(
            f"{Path(args[0]).name} did not finish in {timeout:g}s: stopped it and its children",
            operation=operation,
            taskspec_id=taskspec_id,
        ) from exc
    except BaseException:
        _kill_group(child)
        raise
    done = subprocess.CompletedProcess(args, child.returncode, out, err)
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise StepError(
            f"{Path(args[0]).name} exited {done.returncode}: {detail[-1] if detail else ''}",
            operation=operation,
            taskspec_id=taskspec_id,
        )
    return done


def _kill_group(child: subprocess.Popen[str]) -> None:
    """SIGKILL the child's process group, then reap the child."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate()
