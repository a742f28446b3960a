"""The planning repo's read-only view (specs_link), made and checked by
scripts/mount/ensure_readonly_mount.sh; and whether agents can see it through a read-only mount
of their own (scripts/mount/readonly_view.sh)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

from hatchdoit.core import platform
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


@cache
def namespace_problem(script: Path) -> str | None:
    """Why scripts/mount/readonly_view.sh cannot give an agent a read-only view of the plan on
    this machine (no user namespaces, no root, no unshare), or None when it can. Probed once
    per process: a write under a view of a temporary directory must fail."""
    if not platform.has_namespaces():
        return f"no mount namespaces on {platform.platform_name()}"
    done = run([script, "--probe"], check=False, timeout=30, operation="readonly_view")
    if done.returncode == 0:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"


Protection = Literal["namespace", "snapshot"]


def protection(chosen: str, script: Path) -> tuple[Protection, str]:
    """Which protection of the plan is in force for agents (hatchdoit.yaml's `plan_protection`
    and this machine; `script` is readonly_view.sh), and why."""
    if chosen == "snapshot":
        return "snapshot", "read-only copies of their specs (plan_protection: snapshot)"
    problem = namespace_problem(script)
    if problem is None:
        return "namespace", "agents see the planning repo through a read-only mount"
    if chosen == "namespace":
        raise ConfigError(
            f"plan_protection is namespace, but this machine cannot make one: {problem}",
            field="plan_protection",
            fix="allow user namespaces (or run as root), or set plan_protection: auto",
        )
    return "snapshot", f"read-only copies of their specs: no mount namespace here ({problem})"
