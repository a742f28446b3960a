"""Bare doit running BENCH_TASKS tasks that each hold a worker BENCH_HOLD seconds: what
`doit -n N` itself costs in memory with N workers busy at once. Copied as `dodo.py`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

TASKS = int(os.environ.get("BENCH_TASKS", "16"))
HOLD = float(os.environ.get("BENCH_HOLD", "2"))
DOIT_CONFIG = {"dep_file": ".doit.db", "backend": "sqlite3", "verbosity": 1}


def hold(seconds: float) -> bool:
    time.sleep(seconds)  # a busy session, as far as doit can tell
    return True


def task_session() -> Iterator[dict[str, Any]]:
    for i in range(TASKS):
        yield {"name": str(i), "actions": [(hold, [HOLD])], "uptodate": [False]}
