"""The doit reporter of hatchdoit builds (DOIT_CONFIG['reporter']): one line when a step starts and
one when it finishes, with its attempt, duration and outcome; a closing summary; one line per
failure at the end; metrics written after every build that ran a step; notifications of
failed builds, and of escalations a step's delivery left pending.

    .  factory:001-TS-2025-08-18-SLUGIFY.1     attempt 1/3  started
    +  factory:001-TS-2025-08-18-SLUGIFY.1     attempt 1/3  0.41s  stop
    x  qa:003-TS-2025-08-18-TRUNCATE.1         attempt 1/3  0.52s  rejected: needs docstrings
    F  taskspec:007-TS-2025-08-18-BROKEN                    0.01s  escalated after 3 attempt(s): ...
    F  taskspec:008-TS-2025-08-18-AFTER                            blocked: depends on 007-TS-...
    -- taskspec:001-TS-2025-08-18-SLUGIFY
    hatchdoit: 8 TaskSpec(s): 6 done, 1 escalated, 0 active, 1 pending (...)
    hatchdoit: taskspec 007-TS-2025-08-18-BROKEN: escalated after 3 attempt(s): ... (fix: ...)

`.` started, `+` finished with an ok outcome, `x` finished with a failed outcome (the build goes
on: a retry follows), `F` the doit task failed, `W` it waits (records/waiting.py; doit counts
it as failed, so nothing after it runs; no `build_failed` notice), `--` up to date. A failed
step is said once as it happens (its `F` line) and once more, in full, in the closing
`hatchdoit:` lines on stderr, so the end of the output lists every failure; doit's own
failure block (`TaskFailed - taskid:...`) is not repeated for them. A TaskSpec left unbuilt
because a TaskSpec it depends on failed gets one `F ... blocked` line (`W`: all of them wait),
not one per step. `--` (up to date) lines are printed for `taskspec:<ID>` tasks and for tasks
named on the command line; a step's own (some 14 per TaskSpec, superseded attempts included)
only with `doit -v 2`. A build with nothing to do ends
with one line (`hatchdoit: 5 TaskSpec(s): 5 done; nothing to do`); specs that failed to load
make it `1 spec(s) left out: ...` (build/graph.py's `plan` task fails the build, as `make` does
on a broken makefile). `--reporter console` gives doit's plain output.
With `doit -n N` the lines come from the main process as workers report, so durations are as
seen from there. Long waits on an agent print elapsed and idle time from the step itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed, UnmetDependency
from doit.reporter import ConsoleReporter

from hatchdoit.build.step_outcomes import first_line as _first_line
from hatchdoit.build.step_outcomes import last_line as _last_line
from hatchdoit.build.step_outcomes import step_outcome
from hatchdoit.core.logs import maintain_logs
from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.project import Project, load_project
from hatchdoit.records.waiting import WAITING_STATES, waiting_state

ATTEMPT_STEPS = ("factory", "summary", "checks", "qa")
LEFT_OUT_TASK = "plan"  # graph.py's task failing a build whose plan failed to load in part
STEPS = ("worktree", "setup", *ATTEMPT_STEPS, "taskspec", "integrate")


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


class StepFailed(TaskFailed):  # type: ignore[misc]
    """A hatchdoit step's failure as doit's failure value (what `run_step` returns instead of
    False): `message` is its one `hatchdoit: ...` line, `summary` the short text of its progress
    line. Any doit reporter prints the one line; ProgressReporter prints it once, at the end."""

    def __init__(self, line: str, summary: str, waiting: bool = False) -> None:
        super().__init__(line)
        self.summary = summary
        self.waiting = waiting  # not a failure: the TaskSpec waits for a person's review

    def get_name(self) -> str:
        return "TaskFailed"  # doit's word for a failed task, whatever the subclass

    def get_msg(self) -> str:
        return str(self.message)  # no traceback: the line says it all


class ProgressReporter(ConsoleReporter):  # type: ignore[misc]
    desc = "hatchdoit: one line per step start and finish, with attempt, duration and outcome"

    def __init__(self, outstream: Any, options: dict[str, Any]) -> None:
        super().__init__(outstream, options)
        self._started: dict[str, float] = {}
        self._width = 40
        self._root: Path | None = None
        self._selected: set[str] = set()
        self._executed = 0
        self._current: set[str] = set()  # TaskSpecs whose `taskspec:<ID>` was up to date
        self._failed_tasks: list[dict[str, Any]] = []
        self._failed_tids: set[str] = set()  # TaskSpecs with a failure of their own
        self._blocked_by: dict[str, list[str]] = {}
        self._closing: list[str] = []  # one `hatchdoit:` line per failure, for the end
        self._reader_gone = False  # our stdout's reader closed it
        self._waiting_tids: set[str] = set()  # W: waiting, or blocked by one that waits
        self._left_out = ""  # specs the planning repo's problems left out (graph.py's `plan`)

    # doit's hooks ---------------------------------------------------------------------------

    def initialize(self, tasks: dict[str, Any], selected_tasks: list[str]) -> None:
        super().initialize(tasks, selected_tasks)
        names = [name for name in tasks if parse_task_name(name)]
        self._width = max([len(n) for n in names] + [20]) + 2
        self._root = _root_of(tasks)
        self._selected = set(selected_tasks or [])
        project = self._project()
        if project is not None:
            logs, rotation = project.layout.logs, project.log_rotation
            self._guard("log maintenance", lambda: maintain_logs(logs, rotation))

    def execute_task(self, task: Any) -> None:
        parsed = parse_task_name(task.name)
        if task.name == LEFT_OUT_TASK:
            return  # said once, in the closing lines
        if parsed is None or not task.actions:
            super().execute_task(task)
            return
        self._started[task.name] = time.monotonic()
        self._executed += 1
        self._line(".", task.name, self._attempt_text(parsed), "started")

    def add_success(self, task: Any) -> None:
        super().add_success(task)
        self._refresh()
        parsed = parse_task_name(task.name)
        if parsed is None or task.name not in self._started:
            return
        ok, outcome = self._outcome(parsed)
        self._line("+" if ok else "x", task.name, self._attempt_text(parsed), outcome, task)

    def skip_uptodate(self, task: Any) -> None:
        parsed = parse_task_name(task.name)
        if parsed is not None and parsed[0] == self._final_step():
            self._current.add(parsed[1])
        said = parsed is not None and parsed[0] == "taskspec"  # a line per TaskSpec
        if not said and self._quiet_when_current(task):
            return
        super().skip_uptodate(task)

    def add_failure(self, task: Any, fail: Any) -> None:
        self._refresh()
        parsed = parse_task_name(task.name)
        if task.name == LEFT_OUT_TASK and isinstance(fail, StepFailed):
            self._left_out = fail.summary  # the summary line says it, the closing lines too
            self._closing.append(str(fail.message))
            return
        if parsed is None:
            if self._is_step(task.name) and isinstance(fail, UnmetDependency):
                return  # a group task (`taskspec`): its TaskSpecs say why
            super().add_failure(task, fail)
            return
        step, tid, _ = parsed
        if isinstance(fail, UnmetDependency):
            self._unmet(task, parsed, fail)
            return
        self._failed_tids.add(tid)
        if isinstance(fail, StepFailed):
            message, line = _first_line(fail.summary), str(fail.message)
        else:  # a bug or a doit error: doit's own block (below) keeps the traceback
            message = _last_line(fail.get_msg())
            line = f"hatchdoit: {task.name}: {message} ({fail.get_name()}, details above)"
        waiting = isinstance(fail, StepFailed) and fail.waiting
        self._line("W" if waiting else "F", task.name, self._attempt_text(parsed), message, task)
        if not isinstance(fail, StepFailed):
            super().add_failure(task, fail)
        self._closing.append(line)
        if not waiting:  # records/waiting.py: waiting on a person is no failure to notify
            self._failed_tasks.append(
                {"task": task.name, "taskspec_id": tid, "step": step, "message": message}
            )
        else:
            self._waiting_tids.add(tid)

    def complete_run(self) -> None:
        super().complete_run()  # doit's block for failures that are not a step's (tracebacks)
        project = self._project()
        counts = self._counts(project) if project is not None else Counter()
        if project is not None:
            self._summary(len(project.plan.taskspecs), counts)
        self._close()
        if project is None or not self._ran():
            return  # nothing ran: the metrics and state of the last build that did still hold
        from hatchdoit.observe.metrics import write_metrics
        from hatchdoit.observe.notify import CI_ENV, deliver_pending, notify_build_failed

        self._guard("metrics", lambda: write_metrics(project))
        self._guard("notify", lambda: deliver_pending(project))  # what a step's send left
        if (self._failed_tasks or self.runtime_errors) and not os.environ.get(CI_ENV):
            failures = self._failed_tasks + [{"message": m} for m in self.runtime_errors]
            self._guard("notify", lambda: notify_build_failed(project, failures, dict(counts)))

    # helpers --------------------------------------------------------------------------------

    def _final_step(self) -> str:
        """The step whose being current means done: delivered when delivery is on."""
        project = self._project()
        return (
            "integrate"
            if project is not None and project.config.integrate != "none"
            else "taskspec"
        )

    def _refresh(self) -> None:
        """A task ended (under `doit -n N`, in a worker): what this process read of the records
        (dependencies' commits, decisions) may be out of date now."""
        project = self._project()
        if project is not None:
            project.refresh()

    @staticmethod
    def _is_step(name: str) -> bool:
        """A hatchdoit task: a step (`factory:ID.1`) or a step's group task (`factory`)."""
        return name in STEPS or parse_task_name(name) is not None

    def _quiet_when_current(self, task: Any) -> bool:
        """A step not named on the command line, or a step group (`factory`, `taskspec`): its
        `--` line is noise unless doit runs with `-v 2`; `taskspec:<ID>` lines say each TaskSpec
        is up to date."""
        named = task.name in self._selected and parse_task_name(task.name) is not None
        return self._is_step(task.name) and not named and (task.verbosity or 0) < 2

    def _unmet(self, task: Any, parsed: tuple[str, str, int], fail: Any) -> None:
        """A step not run because a task it depends on failed: one line per blocked TaskSpec."""
        step, tid, _ = parsed
        if step == "worktree":  # a TaskSpec's first step depends on other TaskSpecs only
            names = str(fail.message).split()
            self._blocked_by[tid] = [n.split(":", 1)[-1] for n in names]  # integrate:<ID>, ...
        if step != "taskspec" or tid in self._failed_tids:
            return  # a step: its `taskspec:<ID>` speaks for it, unless it failed on its own
        blocked = self._blocked_by.get(tid) or ["a TaskSpec"]
        if all(b in self._waiting_tids for b in blocked):  # waits, as they do: no failure
            self._waiting_tids.add(tid)
            self._line("W", task.name, "", f"blocked: depends on {', '.join(blocked)}, which waits")
            return
        message = f"blocked: depends on {', '.join(blocked)}, which did not finish"
        self._line("F", task.name, "", message)
        self._failed_tasks.append(
            {"task": task.name, "taskspec_id": tid, "step": step, "message": message}
        )

    def _counts(self, project: Project) -> Counter[str]:
        """TaskSpecs per status; one seen up to date in this build is done (its last step,
        `integrate:<ID>` or `taskspec:<ID>`, is current exactly when it is), the others are read
        from their artifacts."""
        counts: Counter[str] = Counter()
        for tid in project.plan.taskspecs:
            if tid in self._current:
                counts["done"] += 1
                continue
            progress = taskspec_progress(project, tid)
            counts[waiting_state(progress) or str(progress["status"])] += 1
        return counts

    def _ran(self) -> bool:
        return bool(
            self._executed or self._failed_tasks or self._waiting_tids or self.runtime_errors
        )

    def _summary(self, total: int, counts: Counter[str]) -> None:
        if self._ran():
            parts = [f"{counts[k]} {k}" for k in ("done", "escalated", "active", "pending")]
            parts += [f"{counts[state]} {state}" for state in WAITING_STATES if counts[state]]
            if counts["paused"]:  # left waiting on a provider (hatchdoit ci past ci_max_wait)
                parts.append(f"{counts['paused']} paused")
            left = f"; {self._left_out}" if self._left_out else ""
            self.write(
                f"hatchdoit: {total} TaskSpec(s): {', '.join(parts)}{left} "
                "(`hatchdoit status` for details, `hatchdoit report` for the HTML report)\n"
            )
            return
        parts = [f"{n} {k}" for k, n in counts.items() if n]
        tail = self._left_out or "nothing to do"
        self.write(f"hatchdoit: {total} TaskSpec(s): {', '.join(parts) or 'none'}; {tail}\n")

    def _close(self) -> None:
        """The build ends with one line per failure, on stderr, after the report on stdout."""
        if not self._closing:
            return
        for line in self._closing:
            print(line, file=sys.stderr)
        sys.stderr.flush()

    def write(self, text: str) -> None:
        """doit's write, flushed line by line; a reader that went away (`doit | head`) ends
        the output, not the build: agents may be mid-work and every step's result is a file."""
        if self._reader_gone:
            return
        try:
            self.outstream.write(text)
            flush = getattr(self.outstream, "flush", None)
            if flush is not None:
                flush()
        except BrokenPipeError:
            self._reader_gone = True
            with contextlib.suppress(OSError, ValueError):  # no second error at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), self.outstream.fileno())

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
        top = project.attempt_count(tid) if project and tid in project.plan.taskspecs else "?"
        return f"attempt {attempt}/{top}"

    def _line(self, mark: str, name: str, attempt: str, text: str, task: Any = None) -> None:
        took = ""
        if task is not None and name in self._started:
            took = f"{time.monotonic() - self._started.pop(name):.2f}s  "
        self.write(f"{mark:<2} {name:<{self._width}} {attempt:<13} {took}{text}".rstrip() + "\n")

    def _outcome(self, parsed: tuple[str, str, int]) -> tuple[bool, str]:
        project = self._project()
        return (True, "ok") if project is None else step_outcome(project, *parsed)
