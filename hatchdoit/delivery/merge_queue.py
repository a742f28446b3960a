"""Landing one approved commit on the integration branch, the way a merge queue does.

One integration at a time per target repo (a lock in its git directory, so two projects sharing a
repo queue too). In a worktree of hatchdoit's own (never the user's), at the branch's tip: merge
(or squash, or rebase) the approved commit, run the TaskSpec's tests and the project's
`integration.test_command` on the merged tree, and only if they pass move the branch by
compare-and-swap (`git update-ref <ref> <new> <old>`; with `integration.land_on: remote`, the
remote's branch by a push with a lease: landing_target.py). When someone moved the branch
meanwhile, everything is done again on the new tip: their commit is never lost.

Every commit landed this way carries the trailers `Hatchdoit-TaskSpec: <ID>` and
`Hatchdoit-Approved: <commit>`, and an intent file records the tip an integration started from:
after a crash at any point, the next run finds a landing that happened and does not land it twice.

Before every landing the branch is checked for TaskSpec work hatchdoit did not land
(branch_guard.py): an agent that moved the branch stops the build. A tip that already contains
the approved commit is never taken as landed on that alone: the merge finds nothing to add, and
the post-merge tests run on the tip before it is recorded.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hatchdoit.core.atomicio import read_json, write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.locks import exclusive
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.branch_guard import guard_integration_branch, landed_by_intent
from hatchdoit.delivery.landing_target import BranchTarget, local_tip, tell_moved
from hatchdoit.records.models import TestRun
from hatchdoit.run.branches import integration_branch
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git, identity, succeeds, try_git
from hatchdoit.run.setup_commands import set_up_integration
from hatchdoit.run.test_runs import run_test_command
from hatchdoit.run.workspace_files import clean_excludes

Mode = Literal["merge", "squash", "rebase"]
MOVES_TOLERATED = 5  # the branch moved under us this often in one integration: give up


@dataclass
class Landed:
    commit: str  # the commit on the integration branch holding the work
    previous: str  # the branch's tip before
    branch: str
    tests: list[TestRun] = field(default_factory=list)
    moved: int = 0  # times the branch moved under us and the merge was redone
    told: bool = False  # the checkouts of the branch were told already


@dataclass
class Refused:
    """The work cannot land as it is: a conflict, or tests failing on the merged tree."""

    why: Literal["conflict", "tests"]
    tip: str  # the tip it was tried on
    branch: str
    files: list[str] = field(default_factory=list)  # in conflict
    tests: list[TestRun] = field(default_factory=list)
    output: str = ""  # the end of the failing tests' output


def trailers(tid: str, approved: str) -> str:
    return f"Hatchdoit-TaskSpec: {tid}\nHatchdoit-Approved: {approved}\n"


def integrate(ctx: StepContext, approved: str, mode: Mode) -> Landed | Refused:
    """Land `approved` on the integration branch (see the module docstring)."""
    repo = ctx.project.target_repo
    branch = integration_branch(ctx, repo)
    target = BranchTarget(ctx, branch)
    common = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    with exclusive(common / "hatchdoit-integrate.lock", f"integration into {branch}", wait=True):
        for moved in range(MOVES_TOLERATED + 1):
            tip = target.tip()
            intent = ctx.layout.integration_intent(ctx.tid)
            found = (
                landed_by_intent(repo, tip, intent, require_built=target.on_remote)
                if intent.is_file()
                else None
            ) or target.landed_elsewhere(ctx.tid, approved, tip)
            guard_integration_branch(ctx, branch, "before landing")
            if found is not None:
                landed = Landed(found, _intent_tip(ctx) or tip, branch, moved=moved)
                return _told(ctx, target, landed, tip, local_tip(target))
            write_json_atomic(intent, {"approved": approved, "tip": tip})
            worktree = _prepare(ctx, repo, tip)
            merged = _merge(ctx, worktree, tip, approved, mode)
            if isinstance(merged, list):
                return Refused("conflict", tip, branch, files=merged)
            fault_point("integrate.after_merge", ctx.tid)
            tests = _post_merge_tests(ctx, worktree, moved)
            failed = [t for t in tests if t.exit_code != 0]
            if failed:
                return Refused("tests", tip, branch, tests=tests, output=_tail(ctx, failed[0]))
            checkout_from = local_tip(target)
            write_json_atomic(intent, {"approved": approved, "tip": tip, "built": merged})
            fault_point("integrate.before_update_ref", ctx.tid)
            if target.swap(merged, tip, ctx.tid):
                fault_point("integrate.after_update_ref", ctx.tid)
                landed = Landed(merged, tip, branch, tests=tests, moved=moved)
                return _told(ctx, target, landed, merged, checkout_from)
            ctx.log(
                "orchestrator",
                logging.WARNING,
                f"{branch} moved during the integration: merging again on its new tip",
                operation="integrate",
                tip=tip,
            )
    raise StepError(
        f"{branch} moved {MOVES_TOLERATED + 1} times during the integration",
        taskspec_id=ctx.tid,
        operation="integrate",
        fix="rerun doit when the branch is quieter",
    )


def _told(
    ctx: StepContext, target: BranchTarget, landed: Landed, follow: str, checkout_from: str
) -> Landed:
    """On the remote's branch: the local branch follows it to `follow` and its checkouts are
    told of the move from `checkout_from` here (the caller tells them of a local landing)."""
    if target.on_remote:
        tell_moved(ctx, target, follow, checkout_from)
        landed.told = True
    return landed


def _intent_tip(ctx: StepContext) -> str | None:
    """The tip an earlier try of this integration started from, if one was interrupted."""
    try:
        data = read_json(ctx.layout.integration_intent(ctx.tid))
    except (OSError, ValueError):
        return None
    return str(data.get("tip")) if isinstance(data, dict) and data.get("tip") else None


def _prepare(ctx: StepContext, repo: Path, tip: str) -> Path:
    """hatchdoit's integration worktree, detached at `tip`, clean."""
    path = ctx.layout.integration_worktree
    listed = git(repo, "worktree", "list", "--porcelain")
    registered = f"worktree {path.resolve()}" in listed.splitlines()
    if not registered:
        if path.exists():
            shutil.rmtree(path)  # a stale directory of ours, no longer a worktree
        git(repo, "worktree", "prune")
        path.parent.mkdir(parents=True, exist_ok=True)
        git(repo, "worktree", "add", "-q", "--detach", str(path), tip)
        return path
    for args in (
        ("merge", "--abort"),
        ("rebase", "--abort"),
    ):  # what an interrupted integration may have left
        git(path, *args, check=False)
    git(path, "checkout", "-q", "--force", "--detach", tip)
    git(path, "reset", "-q", "--hard", tip)
    git(path, "clean", "-q", "-f", "-d", *clean_excludes(ctx.project.config.workspace))
    return path


def _merge(
    ctx: StepContext, worktree: Path, tip: str, approved: str, mode: Mode
) -> str | list[str]:
    """The merged commit, or the files in conflict (the worktree is left clean at `tip`)."""
    author = ctx.project.config.target.commit_as
    who = identity(author.name, author.email)
    message = f"{ctx.tid}: {ctx.spec.title}\n\nIntegrated by hatchdoit ({mode}).\n\n" + trailers(
        ctx.tid, approved
    )
    if mode == "merge":
        done = try_git(worktree, "merge", "--no-ff", "--no-edit", "-m", message, approved, env=who)
        if done.returncode != 0:
            return _conflicts(worktree, ("merge", "--abort"), done.stderr or done.stdout)
    elif mode == "squash":
        done = try_git(worktree, "merge", "--squash", approved, env=who)
        if done.returncode != 0:
            return _conflicts(worktree, ("reset", "-q", "--hard", tip), done.stderr or done.stdout)
        if not succeeds(worktree, "diff", "--cached", "--quiet"):
            git(worktree, "commit", "-q", "--no-verify", "-m", message, env=who)
    else:
        base = git(worktree, "merge-base", tip, approved).strip()
        done = try_git(worktree, "rebase", "-q", "--onto", tip, base, approved, env=who)
        if done.returncode != 0:
            return _conflicts(worktree, ("rebase", "--abort"), done.stderr or done.stdout)
        if git(worktree, "rev-parse", "HEAD").strip() != tip:
            last = git(worktree, "log", "-1", "--format=%B").rstrip()
            amended = f"{last}\n\n{trailers(ctx.tid, approved)}"
            git(worktree, "commit", "-q", "--amend", "--no-verify", "-m", amended, env=who)
    return git(worktree, "rev-parse", "HEAD").strip()


def _conflicts(worktree: Path, abort: tuple[str, ...], said: str) -> list[str]:
    files = git(worktree, "diff", "--name-only", "--diff-filter=U").split("\n")
    git(worktree, *abort, check=False)
    found = [f for f in files if f]
    if not found:  # not a conflict: git itself failed
        detail = (said.strip().splitlines() or ["no output"])[-1]
        raise StepError(f"git could not merge: {detail}", operation="integrate", path=worktree)
    return found


def _post_merge_tests(ctx: StepContext, worktree: Path, moved: int) -> list[TestRun]:
    """The TaskSpec's test_command, then integration.test_command, on the merged tree."""
    settings = ctx.project.config.integration
    commands = [("tests", ctx.spec.test_command)]
    if settings.test_command:
        commands.append(("integration-tests", settings.test_command))
    set_up_integration(ctx, worktree, ctx.layout.integration_log(ctx.tid, moved + 1, "setup"))
    runs = []
    for name, command in commands:
        log = ctx.layout.integration_log(ctx.tid, moved + 1, name)
        passthrough = ctx.project.config.checks.env_passthrough
        runs.append(
            run_test_command(
                command,
                worktree,
                settings.test_timeout,
                log,
                ctx.layout,
                passthrough,
                ctx.project.config.workspace,
                confinement=ctx.project.config.confinement,
            )
        )
        if runs[-1].exit_code != 0:
            break
    return runs


def _tail(ctx: StepContext, failed: TestRun, lines: int = 40) -> str:
    try:
        text = (ctx.layout.root / failed.log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
