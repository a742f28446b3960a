"""The plan as an agent sees it: never writable (hatchdoit.yaml's `plan_protection`).

namespace: the agent's processes see the planning repo through a read-only bind mount in a
mount namespace of their own (scripts/mount/readonly_view.sh, run by launch_agent.sh
--readonly), so a write there fails whatever path it takes, while hatchdoit and the rest of the
machine see the repo as before. Where the plan lives inside the project or the target repo (a
spec-kit `specs/` folder), only the folders and files holding its specs are mounted read-only.

snapshot, where no namespace can be made: read-only copies (0444) of the TaskSpec's file and
its FeatSpec's in the run's session folder; the agent is pointed at those, not at the repo.

Either way the agent finds them in HATCHDOIT_PLAN_DIR and its TaskSpec in
HATCHDOIT_TASKSPEC_FILE. Before every launch the planning repo must be there (health.py): one
that went away pauses the launch until it is back.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hatchdoit.core.errors import StepError
from hatchdoit.layout import Role
from hatchdoit.planning.health import plan_problem
from hatchdoit.planning.mount import Protection, protection
from hatchdoit.project import Project
from hatchdoit.run.context import StepContext


@dataclass(frozen=True)
class PlanView:
    kind: Protection
    plan_dir: Path  # HATCHDOIT_PLAN_DIR
    spec_file: Path  # HATCHDOIT_TASKSPEC_FILE
    readonly: tuple[Path, ...]  # launch_agent.sh --readonly (namespace)

    def env(self) -> dict[str, str]:
        return {
            "HATCHDOIT_PLAN_DIR": str(self.plan_dir),
            "HATCHDOIT_TASKSPEC_FILE": str(self.spec_file),
        }


def protection_of(project: Project) -> tuple[Protection, str]:
    return protection(project.config.plan_protection, project.script("mount", "readonly_view.sh"))


def plan_view(ctx: StepContext, role: Role, attempt: int) -> PlanView:
    """The view of the plan this launch gives its agent (a snapshot is written here)."""
    project = ctx.project
    kind, _ = protection_of(project)
    root = project.specs_root.resolve()
    own = project.plan.taskspecs[ctx.tid]
    files = [own.path.resolve()]
    feature = project.plan.featspecs.get(project.taskspec(ctx.tid).featspec)
    if feature is not None:
        files.append(feature.path.resolve())
    if kind == "namespace":
        return PlanView(kind, root, files[0], protected_paths(project, root))
    snapshot = ctx.layout.session_dir(ctx.tid, role, attempt) / "plan"
    _write_snapshot(snapshot, root, files)
    return PlanView(kind, snapshot, snapshot / files[0].relative_to(root), ())


def protected_paths(project: Project, root: Path) -> tuple[Path, ...]:
    """The planning repo; or, where the project, its target repo or its worktrees lie inside
    it, each top-level entry of it that holds spec files (and none of those)."""
    inside = [p.resolve() for p in (project.root, project.target_repo, project.layout.worktrees)]
    if not any(p == root or root in p.parents for p in inside):
        return (root,)
    tops = set()
    for loaded in [*project.plan.taskspecs.values(), *project.plan.featspecs.values()]:
        rel = loaded.path.resolve().relative_to(root)
        tops.add(root / rel.parts[0])
    return tuple(sorted(t for t in tops if not any(t == p or t in p.parents for p in inside)))


def _write_snapshot(snapshot: Path, root: Path, files: list[Path]) -> None:
    """Copy `files` (paths under `root`) to `snapshot`, read-only: files 0444, folders 0555."""
    if snapshot.exists():  # from an interrupted launch of this attempt
        for folder, _, _ in os.walk(snapshot):
            os.chmod(folder, 0o755)
        shutil.rmtree(snapshot)
    for source in files:
        target = snapshot / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o444)
    for folder, _, _ in os.walk(snapshot, topdown=False):
        os.chmod(folder, 0o555)


def wait_for_plan(ctx: StepContext, role: Role, attempt: int) -> None:
    """Pause this launch while the planning repo is gone; fail the attempt after
    limits.plan_wait seconds. One line when it goes, one when it is back."""
    root = ctx.project.specs_root
    problem = plan_problem(root)
    if problem is None:
        return
    limits = ctx.project.config.limits
    started = time.monotonic()
    label = f"{ctx.tid} {role} attempt {attempt}"
    print(f"  {label}: planning repo {root} {problem}; waiting for it", file=sys.stderr)
    ctx.audit("plan_missing", role=role, attempt=attempt, problem=problem)
    while problem is not None:
        waited = time.monotonic() - started
        if waited >= limits.plan_wait:
            raise StepError(
                f"planning repo {root} {problem} (waited {waited:.0f}s)",
                taskspec_id=ctx.tid,
                operation="launch",
                fix="mount or restore it, then rerun doit; limits.plan_wait sets the wait",
            )
        time.sleep(min(limits.poll_interval * 10, 5.0))
        problem = plan_problem(root)
    print(f"  {label}: planning repo {root} is back", file=sys.stderr)
    ctx.audit("plan_back", role=role, attempt=attempt)
