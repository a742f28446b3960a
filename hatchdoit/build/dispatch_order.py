"""Give doit its ready steps in critical-path order (priority.py), not first-in first-out.

doit's dispatcher (doit/control.py, `TaskDispatcher`) keeps the steps whose dependencies are met
in a deque and hands a free `doit -n N` worker the oldest (`ready.popleft()`); doit has no
priority. Ordering the task definitions is not enough: each step of a TaskSpec becomes ready
only when the one before it ends, and joins the back of that deque, behind every other
TaskSpec's waiting steps, so a chain's next step waits behind whole agent runs of side work.
So, for a build only (not `doit list`), the dispatcher's ready deque becomes a queue ordered by
the TaskSpec's rank: the step of the highest-priority TaskSpec goes first, then first come first
served. Tasks that belong to no TaskSpec (the groups, a dodo.py's own) keep their FIFO place
ahead of every TaskSpec's, as expanding them costs no worker time. This relies on doit's
dispatcher keeping its ready steps in `TaskDispatcher.ready` (doit is pinned to 0.37);
tests/test_start_order.py builds a plan with `doit -n 2` and fails if the order is doit's own.

The order also reaches the agent slots (`limits.parallel_sessions`, core/locks.py `slot`):
records/start_order.py writes the ranks where every worker reads them, and a free slot goes to
the waiting step of the highest-priority TaskSpec. With more doit workers than slots that
choice, not doit's, decides who runs.
"""

from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING, Any

from hatchdoit.build.priority import start_order
from hatchdoit.records.start_order import clear_start_order, write_start_order

if TYPE_CHECKING:
    from hatchdoit.project import Project

PER_ATTEMPT = ("factory", "summary", "checks", "qa")


def taskspec_of(task_name: str) -> str | None:
    """The TaskSpec id of a step's doit task name (`factory:ID.2`, `worktree:ID`), else None."""
    step, sep, rest = task_name.partition(":")
    if not sep:
        return None
    return rest.rpartition(".")[0] if step in PER_ATTEMPT else rest


class RankedReady:
    """The dispatcher's ready queue (append, popleft, truth, len), served by TaskSpec rank."""

    def __init__(self, ranks: dict[str, int]) -> None:
        self._ranks = ranks
        self._heap: list[tuple[int, int, Any]] = []
        self._seq = itertools.count()

    def _rank(self, node: Any) -> int:
        tid = taskspec_of(str(getattr(node.task, "name", "")))
        return -1 if tid is None else self._ranks.get(tid, -1)

    def append(self, node: Any) -> None:
        heapq.heappush(self._heap, (self._rank(node), next(self._seq), node))

    def popleft(self) -> Any:
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)


def order_dispatch(project: Project) -> None:
    """Rank the plan's TaskSpecs, record the ranks for the agent slots, and make this process's
    doit dispatcher serve its ready steps by rank; with `limits.start_order: plan`, leave
    doit's first-in first-out order and the slots' first come first served."""
    pending = [tid for tid in project.plan.taskspecs if not project.layout.done(tid).exists()]
    if project.config.limits.start_order == "plan" or len(pending) < 2:
        clear_start_order(project.layout.logs)  # nothing to choose between: no history read
        return
    ranks = {tid: ranked.rank for tid, ranked in start_order(project).items()}
    write_start_order(project.layout.logs, ranks)
    from doit import control  # only a build pays for it; `doit` has it loaded already

    plain = getattr(control.TaskDispatcher, "plain", control.TaskDispatcher)

    class RankedDispatcher(plain):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.ready = RankedReady(ranks)  # read only once dispatching starts

    RankedDispatcher.plain = plain
    control.TaskDispatcher = RankedDispatcher
