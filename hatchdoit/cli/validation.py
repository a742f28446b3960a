"""What `hatchdoit validate` (and `hatchdoit ci` before building) checks: the planning repo, its
read-only view, and that every TaskSpec's agent profiles and prompt templates load."""

from __future__ import annotations

from dataclasses import dataclass, field

from hatchdoit.core.errors import HatchdoitError
from hatchdoit.planning.formats.registry import view_paths
from hatchdoit.planning.mount import ensure_view
from hatchdoit.project import Project


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    view: dict[str, object] | None = None


def validate_project(project: Project) -> Validation:
    """Every problem found, each as one line (`path: field: message (fix: ...)`)."""
    result = Validation(problems=[e.one_line() for e in project.plan.errors])
    try:
        result.view = ensure_view(
            project.script("mount", "ensure_readonly_mount.sh"),
            project.specs_root,
            expect=view_paths(project.config.planning.format, project.specs_root),
        )
    except HatchdoitError as exc:
        result.problems.append(exc.one_line())
    for tid in project.plan.taskspecs:
        try:
            project.digest(tid)  # loads both profiles and every template
        except HatchdoitError as exc:
            result.problems.append(exc.one_line())
    result.problems = list(dict.fromkeys(result.problems))
    return result
