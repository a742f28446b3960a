"""The doit task graph: every TaskSpec becomes `taskspec:<ID>` over a chain of step tasks, and,
when approved work is delivered (`integrate` is not none), `integrate:<ID>` after it.

    worktree:<ID> -> setup:<ID> -> factory:<ID>.1 -> summary:<ID>.1 -> checks:<ID>.1 -> qa:<ID>.1
                  -> factory:<ID>.2 -> ... -> qa:<ID>.<n> -> taskspec:<ID> -> integrate:<ID>

n is max_attempts plus the attempts decisions granted (a person's rejection, the integration
sending work back). A dependent's worktree waits for its dependencies' `integrate` when their
work lands on the integration branch (it starts from there), else for their `taskspec`; every
`integrate` waits for its dependencies' (one branch, in dependency order).

Up-to-date comes from the artifacts (see receipts.py), not only doit's database, which doit
writes only when it exits.
"""

from __future__ import annotations

from hatchdoit.core.collector import hold_until_loaded

# A `doit` holds the cycle collector off from here, the first import of its dodo.py, until it
# has built its tasks (core/collector.py; the first up-to-date check or step resumes it): the
# imports below make ~10^5 objects that all live on (pydantic's models and schemas, typing's
# generics), and the ~70 collections their allocations triggered walked them and freed nothing
# (gc.callbacks: 24 ms of a 338 ms import on a busy machine).
hold_until_loaded()

import contextlib
import dataclasses
import gc
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hatchdoit.build import interrupts
from hatchdoit.build.actions import (
    clean_worktree,
    group_is_current,
    preload_steps,
    run_step,
    step_is_current,
)
from hatchdoit.build.confinement_start import start_confinement
from hatchdoit.build.dispatch_order import order_dispatch
from hatchdoit.build.prefetch import prefetch_probe
from hatchdoit.build.reporter import ProgressReporter, StepFailed
from hatchdoit.build.run_scope import scope_landings
from hatchdoit.build.runlock import lock_if_building
from hatchdoit.config.models import MERGE_MODES
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.errors import EXIT_CONFIG, HatchdoitError
from hatchdoit.observe.state import repair_state
from hatchdoit.planning.health import plan_commit
from hatchdoit.planning.plan import Plan
from hatchdoit.project import Project, load_project
from hatchdoit.provider_runs.gate import reset_stopped
from hatchdoit.steps.shared_install import warn_first_build

PER_ATTEMPT = ("factory", "summary", "checks", "qa")
WHOLE_STEPS = ("worktree", "setup", "taskspec", "integrate")  # one per TaskSpec, not per attempt
DOIT_CONFIG: dict[str, Any] = {
    "dep_file": "_logs/.doit.db",
    "backend": "sqlite3",
    "default_tasks": ["taskspec"],
    "verbosity": 1,
    "reporter": ProgressReporter,  # a line per step start/finish; `doit --reporter X` overrides
}


def _task(
    root: str, step: str, tid: str, attempt: int, deps: list[str], doc: str
) -> dict[str, Any]:
    return {
        "name": tid if step in WHOLE_STEPS else f"{tid}.{attempt}",
        "doc": doc,
        "actions": [(run_step, [root, step, tid, attempt])],
        "uptodate": [(step_is_current, [root, step, tid, attempt])],
        "task_dep": deps,
        "verbosity": 2 if step == "taskspec" else 1,
    }


def _group(root: str, step: str, doc: str) -> dict[str, Any]:
    return {
        "basename": step,
        "name": None,
        "doc": doc,
        "uptodate": [(group_is_current, [root, step])],
    }


def _in_plan(project: Project, tid: str) -> bool:
    """Done (or skipped) in a foreign plan: nothing is built for it; its `taskspec` and
    `integrate` tasks exist, up to date without actions, so that dependents find them."""
    return project.taskspec(tid).plan_status is not None


def _settled(tid: str, doc: str) -> dict[str, Any]:
    return {"name": tid, "doc": doc, "actions": None, "uptodate": [True], "task_dep": []}


def _worktree_tasks(project: Project, root: str) -> Iterator[dict[str, Any]]:
    yield _group(root, "worktree", "worktree (a clone of the target) per TaskSpec")
    after = "integrate" if project.config.integrate in MERGE_MODES else "taskspec"
    for tid in project.plan.taskspecs:
        if _in_plan(project, tid):
            continue
        task = _task(
            root,
            "worktree",
            tid,
            0,
            [f"{after}:{dep}" for dep in project.taskspec(tid).depends_on],
            f"worktree of {tid}",
        )
        task["clean"] = [(clean_worktree, [root, tid])]
        yield task


def _setup_tasks(project: Project, root: str) -> Iterator[dict[str, Any]]:
    yield _group(root, "setup", "each worktree set up (workspace.setup)")
    for tid in project.plan.taskspecs:
        if _in_plan(project, tid):
            continue
        yield _task(root, "setup", tid, 0, [f"worktree:{tid}"], f"setup of {tid}'s worktree")


def _attempt_tasks(project: Project, root: str, step: str) -> Iterator[dict[str, Any]]:
    yield _group(root, step, f"{step} step of each attempt")
    for tid in project.plan.taskspecs:
        if _in_plan(project, tid):
            continue
        for k in range(1, project.attempt_count(tid) + 1):
            index = PER_ATTEMPT.index(step)
            if index > 0:
                dep = f"{PER_ATTEMPT[index - 1]}:{tid}.{k}"
            elif k > 1:
                dep = f"qa:{tid}.{k - 1}"
            else:
                dep = f"setup:{tid}"
            yield _task(root, step, tid, k, [dep], f"{step} of {tid}, attempt {k}")


def _taskspec_tasks(project: Project, root: str) -> Iterator[dict[str, Any]]:
    yield _group(root, "taskspec", "every TaskSpec to done")
    for tid in project.plan.taskspecs:
        spec = project.taskspec(tid)
        if _in_plan(project, tid):
            yield _settled(tid, f"{spec.title} ({spec.plan_status} in the plan)")
            continue
        deps = [f"qa:{tid}.{k}" for k in range(1, project.attempt_count(tid) + 1)]
        yield _task(root, "taskspec", tid, 0, deps, spec.title)


def _integrate_tasks(project: Project, root: str) -> Iterator[dict[str, Any]]:
    mode = project.config.integrate
    yield _group(root, "integrate", f"deliver approved work ({mode})")
    for tid in project.plan.taskspecs:
        if _in_plan(project, tid):
            yield _settled(tid, f"{tid}: nothing to deliver (in the plan)")
            continue
        deps = [f"taskspec:{tid}"] + [f"integrate:{d}" for d in project.taskspec(tid).depends_on]
        yield _task(root, "integrate", tid, 0, deps, f"deliver {tid} ({mode})")


def _left_out_task(project: Project) -> dict[str, Any]:
    """With load errors: `plan`, run after every TaskSpec (so the valid ones build first), fails
    the build saying how many specs were left out, as a broken makefile fails `make`."""
    final = "integrate" if project.config.integrate != "none" else "taskspec"
    places, problems = left_out(project.plan)
    return {
        "doc": f"{places} spec(s) of the planning repo left out (hatchdoit validate)",
        "actions": [(plan_left_out, [places, problems])],
        "task_dep": [final],
        "uptodate": [False],
    }


def left_out(plan: Plan) -> tuple[int, int]:
    """(specs left out of the build, problems found) of a plan that failed to load in part: a
    place is a spec file, or a task's line in a foreign plan's file (one spec may have several
    problems)."""
    places = {error.path or error.message for error in plan.errors}
    return len(places), len(plan.errors)


def plan_left_out(places: int, problems: int) -> StepFailed:
    """The `plan` task's action: always a failure (it exists only when specs were left out)."""
    said = f"{places} spec(s) left out: {problems} problem(s) in the planning repo (above)"
    return StepFailed(
        f"hatchdoit: plan: {said} (fix: correct them; hatchdoit validate lists them)", said
    )


def doit_namespace(root: Path) -> dict[str, Any]:
    """What dodo.py exports: DOIT_CONFIG and the task creators for the project at `root`."""
    root = root.resolve()
    hold_until_loaded()  # until doit has built its tasks: actions.py calls loaded()
    try:
        project = load_project(root)
        for error in project.plan.errors:
            print(f"hatchdoit: {error.one_line()}", file=sys.stderr)
        for warning in project.plan.warnings:  # a foreign plan read with care (a duplicated id)
            print(f"hatchdoit: warning: {warning.one_line()}", file=sys.stderr)
        for tid in project.plan.taskspecs:  # profile or template errors surface at load
            project.digest(tid)
    except HatchdoitError as exc:
        print(f"hatchdoit: {exc.one_line()}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    project.layout.logs.mkdir(parents=True, exist_ok=True)  # doit opens its database there
    try:
        if lock_if_building(project.layout.locks / "build.lock"):
            start_confinement(project)  # refuses, or says once that it runs unconfined
            interrupts.install(project.config.tmux_socket)
            os.register_at_fork(before=preload_steps)  # only `doit -n N` forks this process
            repair_state(project)
            _record_plan(project)
            reset_stopped(project.layout)  # credentials fixed since? a wrong key stops it again
            warned = warn_first_build(project, os.environ)  # tests importing the main checkout
            if warned:
                print(warned, file=sys.stderr)
            order_dispatch(project)  # critical path first (build/dispatch_order.py)
            scope_landings()  # a targeted build lands only what it asked for
            prefetch_probe(project)  # the plan-protection probe, off the critical path
    except HatchdoitError as exc:
        print(f"hatchdoit: {exc.one_line()}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    key = str(root)

    # Defined in the order `doit list` shows them (`sort = "definition"` in the project's doit
    # config, by source line): the TaskSpecs first, then their steps in chain order.
    def task_taskspec() -> Iterator[dict[str, Any]]:
        """TaskSpecs"""
        return _taskspec_tasks(project, key)

    def task_integrate() -> Iterator[dict[str, Any]]:
        """delivery"""
        return _integrate_tasks(project, key)

    def task_worktree() -> Iterator[dict[str, Any]]:
        """worktrees"""
        return _worktree_tasks(project, key)

    def task_setup() -> Iterator[dict[str, Any]]:
        """workspace setups"""
        return _setup_tasks(project, key)

    def task_factory() -> Iterator[dict[str, Any]]:
        """factory steps"""
        return _attempt_tasks(project, key, "factory")

    def task_summary() -> Iterator[dict[str, Any]]:
        """summary steps"""
        return _attempt_tasks(project, key, "summary")

    def task_checks() -> Iterator[dict[str, Any]]:
        """checks steps"""
        return _attempt_tasks(project, key, "checks")

    def task_qa() -> Iterator[dict[str, Any]]:
        """qa steps"""
        return _attempt_tasks(project, key, "qa")

    creators: list[Callable[[], Any]] = [
        task_taskspec,
        task_worktree,
        task_setup,
        task_factory,
        task_summary,
        task_checks,
        task_qa,
    ]
    config = dict(DOIT_CONFIG)
    if project.config.integrate != "none":
        creators.insert(1, task_integrate)
        config["default_tasks"] = ["integrate"]  # brings every taskspec along
    if project.plan.errors:

        def task_plan() -> dict[str, Any]:
            """planning repo problems"""
            return _left_out_task(project)

        creators.append(task_plan)
        config["default_tasks"] = [*config["default_tasks"], "plan"]
    namespace: dict[str, Any] = {"DOIT_CONFIG": config}
    namespace.update((creator.__name__, creator) for creator in creators)
    # What exists now (modules, config, the plan) lives as long as the process: keep it out of
    # the collector's full passes, which otherwise walk it again each time doit's thousands of
    # task objects trigger one, and which would make `doit -n N` workers copy every page they
    # share with this process.
    gc.freeze()
    return namespace


def _record_plan(project: Project) -> None:
    """The planning repo's commit as this build found it (`hatchdoit status` shows it; doctor
    warns about a planning repo that is no git repo)."""
    found = plan_commit(project.specs_root)
    # A disk that is full or read-only is said once, by the first step that must write.
    with contextlib.suppress(OSError):
        write_json_atomic(project.layout.plan_record, dataclasses.asdict(found))


def add_tasks(namespace: dict[str, Any]) -> None:
    """Add the plan's tasks to a dodo.py's globals: `add_tasks(globals())` as its last line.
    The project is the dodo.py's directory; the dodo.py's own tasks stay, and its DOIT_CONFIG
    keys win over hatchdoit's. A task creator defined by both is a config error."""
    dodo = Path(namespace["__file__"])
    ours = doit_namespace(dodo.parent)
    clash = sorted(name for name in ours if name.startswith("task_") and name in namespace)
    if clash:
        print(
            f"hatchdoit: {dodo}: {', '.join(clash)} defined by dodo.py and by hatchdoit; "
            "fix: rename the dodo.py's own",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_CONFIG)
    config = {**ours.pop("DOIT_CONFIG"), **namespace.get("DOIT_CONFIG", {})}
    namespace.update(ours, DOIT_CONFIG=config)
