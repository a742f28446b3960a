"""`hatchdoit gc`: remove the worktrees nothing needs any more and say how much disk that freed.

Candidates are the worktrees under the worktrees root (the clones of the target repo sharing its
objects, and older versions' registered linked worktrees) of a TaskSpec that is
delivered (integrated; in `pr` mode, its pull request merged), reset (a `hatchdoit reset` not
applied yet: the next build makes the worktree anew anyway) or abandoned (no longer in the plan,
or done or skipped there), and hatchdoit's integration worktrees (`.integration`: stale whenever
no build runs; gc refuses while one does). A worktree with uncommitted work (besides the setup's
products) or with commits found on no branch, tag or remote is reported and kept; `--force`
removes it, its uncommitted changes with it, its commits kept under `refs/hatchdoit/gc/`.
Branches, receipts and logs always stay. Exit code: 0 (kept worktrees are reported, not
failures), 1 when a build is running, 2 configuration error."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatchdoit.cli.command import Command
from hatchdoit.core.errors import EXIT_OK

if TYPE_CHECKING:
    from hatchdoit.project import Project

# integrate.json of a pull request: asked of GitHub whether it merged
GH_TIMEOUT = 30.0


@dataclass
class Found:
    path: str  # relative to the project root
    why: str
    bytes: int = 0
    detail: str = ""


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="also remove worktrees with uncommitted work (it is lost) or commits on no branch "
        "(kept under refs/hatchdoit/gc/)",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would go; remove none")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from hatchdoit.build.runlock import hold_build_lock
    from hatchdoit.project import load_project

    project = load_project(Path(args.root))
    hold_build_lock(project.layout.locks / "build.lock", wait=False)  # no build meanwhile
    result = collect(project, force=args.force, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    verb = "would remove" if args.dry_run else "removed"
    for found in result["removed"]:
        print(f"{verb} {found['path']} ({found['why']}, {_size(found['bytes'])})")
    for found in result["kept"]:
        print(f"kept {found['path']} ({found['why']}): {found['detail']}")
    root = project.layout.rel(project.layout.worktrees)
    count = len(result["removed"])
    if args.dry_run:
        total = sum(f["bytes"] for f in result["removed"])
        print(f"gc: {count} worktree(s) would go, about {_size(total)} under {root}")
    else:
        print(
            f"gc: {count} worktree(s) removed, {_size(result['freed'])} freed under {root} "
            f"({_size(result['before'])} before, {_size(result['after'])} after)"
        )
    return EXIT_OK


def collect(project: Project, *, force: bool, dry_run: bool) -> dict[str, Any]:
    """Remove (or, dry, list) what gc finds; the disk used under the worktrees root before and
    after, measured, and the difference."""
    from hatchdoit.core.errors import HatchdoitError
    from hatchdoit.core.proc import run as run_argv
    from hatchdoit.delivery.retire import disk_usage, remove_worktree, unsaved_work
    from hatchdoit.records.audit import audit
    from hatchdoit.run.gitops import git
    from hatchdoit.run.workspace_sync import take_ref

    layout, repo = project.layout, project.target_repo
    root = layout.worktrees
    before = disk_usage(root) if root.is_dir() else 0
    removed: list[Found] = []
    kept: list[Found] = []
    if root.is_dir() and (repo / ".git").exists():
        for path, why, undecided in _candidates(project, run_argv):
            found = Found(layout.rel(path), why, disk_usage(path))
            if undecided:
                found.detail = undecided
                kept.append(found)
                continue
            known = path.name in project.plan.taskspecs
            delivered = project.approved_commit(path.name) if known else None
            copied = tuple(project.config.workspace.copy_files)
            try:
                unsaved = unsaved_work(repo, path, copied, delivered)
            except HatchdoitError as exc:  # its .git is not what hatchdoit made
                found.detail = exc.message
                kept.append(found)
                continue
            if unsaved and not force:
                found.detail = f"{unsaved.describe()}; --force removes it"
                kept.append(found)
                continue
            if not dry_run:
                if unsaved.commits:
                    head = git(path, "rev-parse", "HEAD").strip()
                    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
                    ref = f"refs/hatchdoit/gc/{path.name}/{stamp}"
                    git(path, "update-ref", ref, head)  # in the clone, then taken into the target
                    take_ref(repo, path, ref, head)
                try:
                    remove_worktree(repo, layout, path)
                except HatchdoitError as exc:  # e.g. locked with `git worktree lock`
                    found.detail = exc.message
                    kept.append(found)
                    continue
                tid = "" if path.name.startswith(".") else path.name
                audit(layout.audit, "worktree_removed", tid, why=f"gc: {why}", bytes=found.bytes)
            removed.append(found)
        if not dry_run:
            git(repo, "worktree", "prune")
    after = disk_usage(root) if root.is_dir() else 0
    return {
        "removed": [asdict(f) for f in removed],
        "kept": [asdict(f) for f in kept],
        "before": before,
        "after": after,
        "freed": before - after,
    }


Candidate = tuple[Path, str, str]  # the worktree, why it can go, why it is kept undecided ("")


def _candidates(project: Project, run_argv: Callable[..., Any]) -> list[Candidate]:
    """Every registered worktree under the worktrees root that nothing needs, with why; one
    whose fate cannot be told (GitHub unreachable) comes with why it is kept."""
    from hatchdoit.delivery.landed import current_integration
    from hatchdoit.records.models import WorktreeRecord
    from hatchdoit.records.schemas import try_load
    from hatchdoit.run.gitops import git
    from hatchdoit.run.workspace_sync import is_clone_of

    root = project.layout.worktrees.resolve()
    listed = git(project.target_repo, "worktree", "list", "--porcelain")
    locked: set[Path] = set()
    paths: list[Path] = []
    for line in listed.splitlines():  # blocks: `worktree PATH`, then HEAD, branch, locked ...
        if line.startswith("worktree "):
            paths.append(Path(line[len("worktree ") :]))
        elif line.split(" ", 1)[0] == "locked" and paths:
            locked.add(paths[-1])
    paths += [p for p in root.iterdir() if is_clone_of(project.target_repo, p)]
    found: list[Candidate] = []
    for path in sorted({p for p in paths if p.parent == root and p.is_dir()}):
        name = path.name
        if name.startswith("."):
            found.append((path, "stale integration worktree", ""))
            continue
        if name not in project.plan.taskspecs:
            found.append((path, "abandoned: no such TaskSpec in the plan", ""))
            continue
        status = project.taskspec(name).plan_status
        if status is not None:
            found.append((path, f"abandoned: {status} in the plan", ""))
            continue
        record = current_integration(project, name)
        if record is not None and record.outcome == "integrated":
            if record.mode != "pr" or record.pr_number is None:
                found.append((path, "delivered", ""))
                continue
            merged = _pr_merged(project.target_repo, record.pr_number, run_argv)
            pr = f"PR #{record.pr_number}"
            if merged is None:
                found.append((path, "delivered?", f"cannot ask gh whether {pr} merged"))
            elif merged:
                found.append((path, f"delivered: {pr} merged", ""))
            continue
        decisions = project.decisions(name)
        made = try_load(project.layout.worktree_record(name), WorktreeRecord)
        reset = decisions[0].seq if decisions and decisions[0].kind == "reset" else None
        if reset is not None and (made is None or made.reset != reset):
            found.append((path, "reset: the next build makes it anew", ""))
    lock = "locked with `git worktree lock`: unlock it first"
    return [(p, why, lock if p in locked else undecided) for p, why, undecided in found]


def _pr_merged(repo: Path, number: int, run_argv: Callable[..., Any]) -> bool | None:
    done = run_argv(
        ["gh", "pr", "view", str(number), "--json", "state"],
        cwd=repo,
        check=False,
        timeout=GH_TIMEOUT,
    )
    if done.returncode != 0:
        return None
    try:
        return bool(json.loads(done.stdout).get("state") == "MERGED")
    except (ValueError, AttributeError):
        return None


def _size(count: int) -> str:
    return f"{count / 1048576:.1f} MiB"


COMMANDS = (
    Command(
        "gc",
        "Remove worktrees nothing needs (delivered, reset, abandoned; stale integration "
        "worktrees) and say how much disk that freed.",
        run,
        arguments,
    ),
)
