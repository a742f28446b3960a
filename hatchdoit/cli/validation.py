"""What `hatchdoit validate` (and `hatchdoit ci` before building) checks: the planning repo, its
read-only view, and that every TaskSpec's agent profiles and prompt templates load."""

from __future__ import annotations

from dataclasses import dataclass, field

from hatchdoit.core.errors import HatchdoitError
from hatchdoit.planning.formats.registry import view_paths
from hatchdoit.planning.mount import ensure_view
from hatchdoit.project import Project
from hatchdoit.provider_runs.budgets import spend_warnings
from hatchdoit.run.gitops import current_branch


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
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
    result.problems += _target_problems(project)
    if not project.plan.taskspecs and not project.plan.errors:
        result.warnings.append(
            f"{project.specs_root}: no TaskSpecs found (fix: point `specs:` in hatchdoit.yaml, "
            "or HATCHDOIT_SPECS, at the planning repo's root)"
        )
    result.warnings += spend_warnings(project)  # a budget that cannot see a profile's spend
    result.problems = list(dict.fromkeys(result.problems))
    return result


def _target_problems(project: Project) -> list[str]:
    """The target repo must name a branch to start from: target.integration_branch, or the
    branch checked out there (a detached HEAD has none). A target made from its seed at the
    first build is not checked."""
    repo = project.target_repo
    if project.config.target.integration_branch or not (repo / ".git").exists():
        return []
    try:
        current_branch(repo)
    except HatchdoitError as exc:
        return [exc.one_line()]
    return []
