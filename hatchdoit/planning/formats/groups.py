"""Parents and their sub-tasks (Task Master subtasks, Kiro `N` over `N.M`): a parent is no
TaskSpec of its own but a group; each sub-task gets its text as context and its dependencies,
and a dependency on the parent means one on every sub-task. Groups may nest."""

from __future__ import annotations

from dataclasses import dataclass, field

from hatchdoit.planning.formats.source import SourceFeature, SourceTask, Status

SETTLED: tuple[Status, ...] = ("done", "skipped")


@dataclass
class Groups:
    tasks: dict[str, SourceTask]
    children: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, feature: SourceFeature) -> Groups:
        """The first task of each key (rename_duplicates ran: keys are unique)."""
        tasks: dict[str, SourceTask] = {}
        for task in feature.tasks:
            tasks.setdefault(task.key, task)
        groups = cls(tasks)
        for task in tasks.values():
            if task.parent is not None and task.parent in tasks and task.parent != task.key:
                groups.children.setdefault(task.parent, []).append(task.key)
            else:
                task.parent = None  # a parent the plan does not have: a task of its own
        return groups

    def is_group(self, key: str) -> bool:
        return key in self.children

    def leaves(self, key: str) -> list[str]:
        """The TaskSpecs `key` stands for: itself, or every sub-task below it."""
        if key not in self.children:
            return [key]
        return [leaf for child in self.children[key] for leaf in self.leaves(child)]

    def top(self) -> list[str]:
        """The tasks that are no one's sub-task, in file order."""
        return [key for key, task in self.tasks.items() if task.parent is None]

    def ancestors(self, key: str) -> list[SourceTask]:
        """Its parent, the parent's parent, ...: nearest first."""
        found: list[SourceTask] = []
        parent = self.tasks[key].parent
        while parent is not None and len(found) < len(self.tasks):
            found.append(self.tasks[parent])
            parent = self.tasks[parent].parent
        return found

    def status(self, key: str) -> tuple[Status, str]:
        """(status, the source's word for it) of a TaskSpec: its own, unless a parent is done
        or skipped, which settles the whole group."""
        task = self.tasks[key]
        if task.status in SETTLED:
            return task.status, task.status_word
        for parent in self.ancestors(key):
            if parent.status in SETTLED:
                return parent.status, f"{parent.status_word}, of parent {parent.key}"
        return task.status, task.status_word

    def settled(self, key: str) -> bool:
        """Whether nothing of `key` is left to build: done or skipped, all of a group's."""
        return all(self.status(leaf)[0] in SETTLED for leaf in self.leaves(key))
