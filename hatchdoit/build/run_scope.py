"""The TaskSpecs a build may land (run/landing_scope.py), from what doit was asked to run.

doit turns the command line's targets into `selected_tasks` and builds its dispatcher from them
(`TaskControl.task_dispatcher`, doit/control.py) in the building process, before `doit -n N`
forks its workers. Wrapping that one method, the integrate steps reachable from the selected
tasks through `task_dep` and `setup` are the build's: `doit integrate:A` reaches A's and its
dependencies' (graph.py: every integrate waits for its dependencies'), `doit taskspec:A` only
its dependencies' (in merge modes A's worktree starts after them), `doit` all of them.
"""

from __future__ import annotations

from typing import Any

from hatchdoit.run.landing_scope import set_landing_scope

_WRAPPED = "_hatchdoit_scoped"


def integrations_reached(tasks: dict[str, Any], selected: list[str]) -> frozenset[str]:
    """The TaskSpec ids of the `integrate:<ID>` tasks reachable from `selected`."""
    seen: set[str] = set()
    todo = list(selected)
    while todo:
        name = todo.pop()
        if name in seen or name not in tasks:
            continue
        seen.add(name)
        task = tasks[name]
        todo += list(getattr(task, "task_dep", []) or [])
        todo += list(getattr(task, "setup_tasks", []) or [])
    return frozenset(n.partition(":")[2] for n in seen if n.startswith("integrate:"))


def scope_landings() -> None:
    """Make this process's doit record the build's landing scope when it starts dispatching."""
    from doit import control  # only a build pays for it; `doit` has it loaded already

    if getattr(control.TaskControl, _WRAPPED, False):
        return
    plain = control.TaskControl.task_dispatcher

    def task_dispatcher(self: Any) -> Any:
        set_landing_scope(integrations_reached(self.tasks, list(self.selected_tasks or [])))
        return plain(self)

    control.TaskControl.task_dispatcher = task_dispatcher
    setattr(control.TaskControl, _WRAPPED, True)
