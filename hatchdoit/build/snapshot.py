"""One answer per question in a doit process that only looks (`doit list`, `info`, ...).

`doit list --all --status` asks whether every step is current twice: once for its own line, and
again inside its group task's check (`factory`, `qa`, ... are current when all their members
are). A process that runs no tasks sees one snapshot of the artifacts, so the first answer
stands for the process's life; a build (which writes artifacts as it goes) always asks afresh.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from hatchdoit.build.runlock import runs_tasks

P = ParamSpec("P")
T = TypeVar("T")


@functools.cache
def only_looking() -> bool:
    """Whether this process's doit command runs no tasks."""
    return not runs_tasks(sys.argv)


def once_when_looking(func: Callable[P, T]) -> Callable[P, T]:
    """`func` (of hashable positional arguments) memoised in a process that runs no tasks."""
    answers: dict[object, T] = {}

    @functools.wraps(func)
    def answer(*args: P.args, **kwargs: P.kwargs) -> T:
        if kwargs or not only_looking():
            return func(*args, **kwargs)
        try:
            return answers[args]
        except KeyError:
            found = answers[args] = func(*args, **kwargs)
            return found

    return answer
