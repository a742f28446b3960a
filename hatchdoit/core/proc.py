"""The one helper through which every external command runs: argv lists, never shell strings."""

from __future__ import annotations

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
    """Run argv, capture text output; with `check`, a non-zero exit raises StepError."""
    args = [str(a) for a in argv]
    try:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StepError(
            f"{args[0]} could not run: {exc}", operation=operation, taskspec_id=taskspec_id
        ) from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise StepError(
            f"{Path(args[0]).name} exited {done.returncode}: {detail[-1] if detail else ''}",
            operation=operation,
            taskspec_id=taskspec_id,
        )
    return done
