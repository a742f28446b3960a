"""What a build will need from a slow probe, started while doit sets up.

Whether agents can get a read-only mount of the plan (planning/mount.py `namespace_problem`,
a `readonly_view.sh --probe` process, ~20 ms) is asked once per process by the first agent
launch, on the critical path of the build's first TaskSpec. A build starts it in a thread
when it loads (the thread only waits on the probe's process), and joins it before `doit -n N`
forks its workers, so that they inherit the answer instead of each probing again.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from hatchdoit.planning.mount import namespace_problem

if TYPE_CHECKING:
    from hatchdoit.project import Project

_started: list[threading.Thread] = []


def prefetch_probe(project: Project) -> None:
    """Start probing the plan's protection in the background (not when it is `snapshot`)."""
    if project.config.plan_protection == "snapshot" or _started:
        return
    script = project.script("mount", "readonly_view.sh")
    thread = threading.Thread(target=_probe, args=(script,), name="hatchdoit-probe", daemon=True)
    thread.start()
    _started.append(thread)
    os.register_at_fork(before=_join)


def _probe(script: Path) -> None:
    # A probe that cannot run at all raises again, uncached, at the launch that needs it: that
    # call says it, in the step's output, rather than this thread on doit's stderr.
    with contextlib.suppress(Exception):
        namespace_problem(script)


def _join() -> None:
    for thread in _started:
        thread.join()
