"""The doit reporter of hatchdoit builds (DOIT_CONFIG['reporter']): one line when a step starts and
one when it finishes, with its attempt, duration and outcome; a closing summary; metrics written
after every build that ran a step; notifications for escalations and failed builds.

    .  factory:001-TS-2025-08-18-SLUGIFY.1     attempt 1/3  started
    +  factory:001-TS-2025-08-18-SLUGIFY.1     attempt 1/3  0.41s  stop
    x  qa:003-TS-2025-08-18-TRUNCATE.1         attempt 1/3  0.52s  rejected: needs docstrings
    F  taskspec:007-TS-2025-08-18-BROKEN                    0.01s  escalated after 3 attempt(s)

`.` started, `+` finished with an ok outcome, `x` finished with a failed outcome (the build goes
on: a retry follows), `F` the doit task failed. Up-to-date tasks keep doit's `-- name` line.
With `doit -n N` the lines come from the main process as workers report, so durations are as
seen from there. Long waits on an agent print elapsed and idle time from the step itself.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from doit.reporter import ConsoleReporter

from hatchdoit.logs import maintain_logs
from hatchdoit.progress import taskspec_progress
from hatchdoit.project import Project, load_project
from hatchdoit.records import Receipt
from hatchdoit.schemas import try_load

ATTEMPT_STEPS = ("factory", "summary", "checks", "qa")
STEPS = ("worktree", *ATTEMPT_STEPS, "taskspec")


def parse_task_name(name: str) -> tuple[str, str, int] | None:
    """`factory:ID.2` -> ("factory", "ID", 2); `worktree:ID` -> ("worktree", "ID", 0)."""
    step, sep, rest = name.partition(":")
    if not sep or step not in STEPS or not rest:
        return None
    if step in ATTEMPT_STEPS:
        tid, dot, attempt = rest.rpartition(".")
        if not dot or not attempt.isdigit():
            return None
        return step, tid, int(attempt)
    return step, rest, 0


def _root_of(tasks: dict[str, Any]) -> Path | None:
    """The project root: the first argument of every hatchdoit step action, else the working
    directory when it holds the project (doit runs in the directory of dodo.py)."""
    for task in tasks.values():
        for action in getattr(task, "actions", None) or []:
            args = getattr(action, "args", None)
            if args and isinstance(args[0], str) and parse_task_name(task.name):
                return Path(args[0])
    cwd = Path.cwd()
    return cwd if (cwd / "dodo.py").is_file() else None


def _first_line(text: str, limit: int = 140) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


class ProgressReporter(ConsoleReporter):  # type: ignore[misc]
    desc = "hatchdoit: one line per step start and finish, with attempt, duration and outcome"

    def __init__(self, outstream: Any, options: dict[str, Any]) -> None:
        super().__init__(outstream, options)
        self._started: dict[str, float] = {}
        self._width = 40
        self._root: Path | None = None
        self._executed = 0
        self._failed_tasks: list[dict[str, Any]] = []

    # doit's hooks ---------------------------------------------------------------------------

    def initialize(self, tasks: dict[str, Any], selected_tasks: list[str]) -> None:
        super().initialize(tasks, selected_tasks)
        names = [name for name in tasks if parse_task_name(name)]
        self._width = max([len(n) for n in names] + [20]) + 2
        self._root = _root_of(tasks)
        project = self._project()
        if project is not None:
            self._guard("log maintenance", lambda: maintain_logs(project.layout.logs))

    def execute_task(self, task: Any) -> None:
        parsed = parse_task_name(task.name)
        if parsed is None or not task.actions:
            super().execute_task(task)
            return
        self._started[task.name] = time.monotonic()
        self._executed += 1
        self._line(".", task.name, self._attempt_text(parsed), "started")

    def add_success(self, task: Any) -> None:
        super().add_success(task)
        parsed = parse_task_name(task.name)
        if parsed is None or task.name not in self._started:
            return
        ok, outcome = self._outcome(parsed)
        self._line("+" if ok else "x", task.name, self._attempt_text(parsed), outcome, task)

    def add_failure(self, task: Any, fail: Any) -> None:
        parsed = parse_task_name(task.name)
        if parsed is not None:
            message = _first_line(fail.get_msg() if hasattr(fail, "get_msg") else str(fail))
            escalated = self._escalated(parsed)
            if escalated:
                message = escalated
            self._line("F", task.name, self._attempt_text(parsed), message, task)
            self._failed_tasks.append(
                {"task": task.name, "taskspec_id": parsed[1], "step": parsed[0], "message": message}
            )
            if parsed[0] == "taskspec":
                project = self._project()
                if project is not None:
                    from hatchdoit.notify import notify_escalated

                    self._guard("notify", lambda: notify_escalated(project, parsed[1]))
        super().add_failure(task, fail)

    def complete_run(self) -> None:
        super().complete_run()
        project = self._project()
        if project is None:
            return
        if not (self._executed or self._failed_tasks or self.runtime_errors):
            return  # nothing ran: the metrics and state of the last build that did still hold
        from hatchdoit.metrics import write_metrics
        from hatchdoit.notify import CI_ENV, notify_build_failed

        counts: Counter[str] = Counter()
        if self._executed:
            for tid in project.plan.taskspecs:
                counts[str(taskspec_progress(project, tid)["status"])] += 1
            parts = [f"{counts[k]} {k}" for k in ("done", "escalated", "active", "pending")]
            self.write(
                f"hatchdoit: {len(project.plan.taskspecs)} TaskSpec(s): {', '.join(parts)} "
                "(`hatchdoit status` for details, `hatchdoit report` for the HTML report)\n"
            )
        self._guard("metrics", lambda: write_metrics(project))
        if (self._failed_tasks or self.runtime_errors) and not os.environ.get(CI_ENV):
            failures = self._failed_tasks + [{"message": m} for m in self.runtime_errors]
            self._guard("notify", lambda: notify_build_failed(project, failures, dict(counts)))

    # helpers --------------------------------------------------------------------------------

    def _project(self) -> Project | None:
        if self._root is None:
            return None
        try:
            return load_project(self._root)
        except Exception:  # the build itself reports configuration errors
            return None

    def _guard(self, what: str, work: Any) -> None:
        """Extras must never break the build's own report: say what failed, on stderr."""
        try:
            work()
        except Exception as exc:
            print(f"hatchdoit: {what} failed: {exc!r}", file=sys.stderr)

    def _attempt_text(self, parsed: tuple[str, str, int]) -> str:
        _, tid, attempt = parsed
        if not attempt:
            return ""
        project = self._project()
        top = project.max_attempts(tid) if project and tid in project.plan.taskspecs else "?"
        return f"attempt {attempt}/{top}"

    def _line(self, mark: str, name: str, attempt: str, text: str, task: Any = None) -> None:
        took = ""
        if task is not None and name in self._started:
            took = f"{time.monotonic() - self._started.pop(name):.2f}s  "
        self.write(f"{mark:<2} {name:<{self._width}} {attempt:<13} {took}{text}".rstrip() + "\n")
        flush = getattr(self.outstream, "flush", None)
        if flush is not None:
            flush()

    def _outcome(self, parsed: tuple[str, str, int]) -> tuple[bool, str]:
        step, tid, attempt = parsed
        project = self._project()
        if project is None:
            return True, "ok"
        if step == "taskspec":
            progress = taskspec_progress(project, tid) if tid in project.plan.taskspecs else {}
            return True, f"done (attempt {progress.get('attempt', '?')})"
        receipt = try_load(project.layout.receipt(tid, step, attempt), Receipt)
        if receipt is None:
            return True, "skipped: an earlier attempt was approved"
        if step == "qa":
            decision = str(receipt.data.get("decision", receipt.outcome))
            reason = f": {_first_line(receipt.reasons[0])}" if receipt.reasons else ""
            return receipt.outcome == "ok", decision + ("" if receipt.outcome == "ok" else reason)
        if receipt.outcome == "ok":
            detail = receipt.data.get("event") if step == "factory" else None
            return True, str(detail or "ok")
        reason = _first_line(receipt.reasons[0]) if receipt.reasons else ""
        return False, "failed" + (f": {reason}" if reason else "")

    def _escalated(self, parsed: tuple[str, str, int]) -> str | None:
        step, tid, _ = parsed
        project = self._project()
        if step != "taskspec" or project is None or tid not in project.plan.taskspecs:
            return None
        progress = taskspec_progress(project, tid)
        if progress["status"] != "escalated":
            return None
        reasons = progress.get("reasons") or []
        last = f": {_first_line(str(reasons[-1]))}" if reasons else ""
        return f"escalated after {progress['attempt']} attempt(s){last}"
