"""Importing a module while a doit step runs, and the modules imported only then.

doit replaces sys.stdout and sys.stderr with its capturing writers during an action; libtmux
reads `sys.stdout.encoding` when it is imported, which those writers lack. Imports made here see
the real streams for their duration, and run with the cycle collector paused (collector.py).

libtmux and watchdog are imported at their first use, after an agent session is launched: the
import then overlaps with the agent's own start-up in its tmux pane instead of delaying it.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from hatchdoit.core.collector import collector_paused

# Imported by preload_steps before `doit -n N` forks, so the workers share one copy.
LATE_DEPENDENCIES = ("libtmux", "libtmux.exc", "watchdog.observers", "watchdog.events")


def import_in_step(name: str) -> ModuleType:
    """importlib.import_module with the real stdout/stderr and no cycle collection."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    captured = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    try:
        with collector_paused():
            return importlib.import_module(name)
    finally:
        sys.stdout, sys.stderr = captured
