"""What a foreign plan reader (spec-kit, Task Master, Kiro) hands to the shared assembly
(assemble.py): its features and their tasks, as the source says them, before ids, groups,
dependencies and defaults are worked out. Plain dataclasses: they live for one load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hatchdoit.core.errors import SpecError

# todo and active are built; done counts as a satisfied dependency; skipped is not built and
# its dependents build anyway.
Status = Literal["todo", "active", "done", "skipped"]
Order = Literal["phases", "numbered", "none"]


@dataclass
class Dependency:
    """A dependency the source states: another task's id there, and the line that says so."""

    key: str
    line: int


@dataclass
class SourceTask:
    """One task (or a parent of sub-tasks) as its plan says it."""

    key: str  # its id in the source: T006, 3.2, 1.2
    title: str
    line: int  # 1-based line in the feature's file
    text: str = ""  # its own Markdown: description and details
    parent: str | None = None  # the key of the task it is a sub-task of
    depends: list[Dependency] = field(default_factory=list)
    parallel: bool = False  # may run beside the task before it ([P], (P))
    phase: int | None = None  # spec-kit: index of its `## Phase` heading
    status: Status = "todo"
    status_word: str = ""  # the source's own word for a done or skipped status
    acceptance: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    context: str = ""  # more of the plan for its prompt (spec-kit: its story and phase goal)
    optional: bool = False  # Kiro's `- [ ]*`: built only with planning.optional_tasks: build


@dataclass
class SourceFeature:
    """A spec-kit or Kiro feature folder, or a Task Master tag: one FeatSpec."""

    name: str
    title: str
    path: Path  # the file its tasks are in
    body: str
    order: Order
    tasks: list[SourceTask] = field(default_factory=list)


@dataclass
class SourcePlan:
    """What a reader found: the features it read, the names of all it saw (include may have
    left some out), and its problems."""

    format: str
    features: list[SourceFeature] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    errors: list[SpecError] = field(default_factory=list)
    warnings: list[SpecError] = field(default_factory=list)


Wanted = Callable[[str], bool]  # whether planning.include selects a feature or tag


def at(path: Path, line: int) -> str:
    """`path:line`, how errors and `hatchdoit plan` name a place in a plan file."""
    return f"{path}:{line}"


MAX_PLAN_BYTES = 4 * 1024 * 1024


def read_text(path: Path) -> str:
    """A plan file's text; a SpecError says why it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", path=path) from None
    if len(raw) > MAX_PLAN_BYTES:
        raise SpecError(
            f"file is {len(raw)} bytes, over the {MAX_PLAN_BYTES} byte limit",
            path=path,
            fix="split the plan into smaller features",
        )
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise SpecError("not UTF-8 text", path=path, fix="save the file as UTF-8") from None
