"""The planning repo's read-only view (specs_link), made and checked by
scripts/mount/ensure_readonly_mount.sh."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hatchdoit.core.errors import ConfigError
from hatchdoit.core.proc import run


def ensure_view(
    script: Path,
    path: Path,
    source: Path | None = None,
    bind: bool = False,
    expect: Sequence[str] = (),
) -> dict[str, Any]:
    """Make (with `source`) or verify the view; returns the script's JSON report. The view must
    hold `_specs/`, or with `expect` one of those paths (formats/registry.py's view_paths)."""
    argv: list[str | Path] = [script, "--path", path]
    if source is not None:
        argv += ["--source", source]
    if bind:
        argv.append("--bind")
    for rel in expect:
        argv += ["--expect", rel]
    done = run(argv, check=False, operation="ensure_readonly_mount")
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(
            f"planning repo view is not usable: {detail}",
            path=path,
            fix="point specs at a planning repo (_specs/, or a spec-kit, Task Master or Kiro "
            "plan): hatchdoit init --specs PATH",
        )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report
