"""`integrate: pr`: push the TaskSpec's branch and open (or update) its one pull request with `gh`.

The approved commit is pushed to `integration.remote` as `taskspec/<ID>`, never forced: a remote
branch with commits ours lacks is a clear error. The PR's title is the TaskSpec's, its body the
factory's summary, the checks and QA's verdict; its base is the integration branch, or with
`integration.dependents: stack` the branch of the one TaskSpec it depends on. With `wait`, a
dependent's PR is opened once its dependencies' PRs have merged. A rerun finds the PR by its head
branch and updates it: one PR per TaskSpec, however often the step runs. `gh` authenticates
itself (its login or GH_TOKEN in the environment): nothing secret is on its command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.proc import run
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.retire import retire_delivered
from hatchdoit.records.models import ChecksRecord, IntegrationRecord, SummaryRecord, VerdictRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.run.branches import integration_branch
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import branch_of, try_git

GH_TIMEOUT = 120.0


@dataclass
class PullRequest:
    url: str
    number: int
    base: str


def _gh(ctx: StepContext, *args: str) -> str:
    done = run(["gh", *args], cwd=ctx.project.target_repo, check=False, timeout=GH_TIMEOUT)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise StepError(
            f"gh {args[0]} {args[1]} failed: {detail[-1]}",
            taskspec_id=ctx.tid,
            operation="pull_request",
            fix="`gh auth status` must say you are logged in (or set GH_TOKEN); "
            "`hatchdoit doctor` checks it",
        )
    return done.stdout


def push(ctx: StepContext, approved: str) -> None:
    """Push the approved commit as the remote's taskspec/<ID>; never forced."""
    remote = ctx.project.config.integration.remote
    refspec = f"{approved}:refs/heads/{branch_of(ctx.tid)}"
    done = try_git(ctx.project.target_repo, "push", "--quiet", remote, refspec, timeout=GH_TIMEOUT)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise StepError(
            f"git push to {remote} refused {branch_of(ctx.tid)}: {detail[-1]}",
            taskspec_id=ctx.tid,
            operation="push",
            fix=f"the remote's {branch_of(ctx.tid)} has commits that are not on ours: fetch "
            "them and have the work reviewed again (hatchdoit never force-pushes)",
        )
    fault_point("integrate.after_push", ctx.tid)


def existing(ctx: StepContext) -> PullRequest | None:
    """The open PR whose head is taskspec/<ID>, if there is one."""
    listed = _gh(
        ctx,
        "pr",
        "list",
        "--head",
        branch_of(ctx.tid),
        "--state",
        "open",
        "--json",
        "number,url,baseRefName",
    )
    found: list[dict[str, Any]] = json.loads(listed or "[]")
    if not found:
        return None
    first = found[0]
    return PullRequest(str(first["url"]), int(first["number"]), str(first["baseRefName"]))


def base_branch(ctx: StepContext) -> str:
    """The PR's base: the integration branch, or the one dependency's branch (stack)."""
    deps = ctx.project.plan.built_dependencies(ctx.tid)  # done in the plan: no branch, no PR
    if ctx.project.config.integration.dependents == "stack" and len(deps) == 1:
        return branch_of(deps[0])
    return integration_branch(ctx, ctx.project.target_repo)


def unmerged_dependencies(ctx: StepContext) -> list[str]:
    """With `dependents: wait`: the dependencies whose pull request has not merged yet. One
    found merged is delivered: its worktree is removed here (retire.py)."""
    if ctx.project.config.integration.dependents != "wait":
        return []
    waiting = []
    for dep in ctx.project.plan.built_dependencies(ctx.tid):
        record = try_load(ctx.layout.integration(dep), IntegrationRecord)
        if record is None or record.pr_number is None:
            waiting.append(dep)
            continue
        state = json.loads(_gh(ctx, "pr", "view", str(record.pr_number), "--json", "state"))
        if state.get("state") != "MERGED":
            waiting.append(dep)
        else:  # delivered: its worktree goes now (workspace.remove_delivered), not at gc
            retire_delivered(StepContext(ctx.project, dep))
    return waiting


def body(ctx: StepContext, attempt: int) -> str:
    """The PR's description: the summary's handover notes, the checks, QA's verdict."""
    layout = ctx.layout
    summary = try_load(layout.summary(ctx.tid, attempt), SummaryRecord)
    checks = try_load(layout.checks(ctx.tid, attempt), ChecksRecord)
    verdict = try_load(layout.verdict(ctx.tid, attempt), VerdictRecord)
    lines = [f"TaskSpec `{ctx.tid}`: {ctx.spec.title} (attempt {attempt}), built by hatchdoit.", ""]
    if summary is not None:
        lines += ["## Summary", "", summary.handover_notes or "(no notes)", ""]
        lines += [f"- `{path}`" for path in summary.implementation_files] + [""]
    if checks is not None:
        tests = checks.tests
        lines += ["## Checks", ""]
        if tests is not None:
            counts = (
                f"{tests.passed} passed, {tests.failed} failed" if tests.passed is not None else ""
            )
            lines.append(f"- tests `{' '.join(tests.command)}`: exit {tests.exit_code} {counts}")
        if checks.loc is not None:
            lines.append(f"- {checks.loc.added} lines added (cap {checks.loc.cap})")
        lines.append("")
    if verdict is not None:
        lines += ["## QA verdict", "", f"**{verdict.verdict}**", ""]
        lines += [f"- {reason}" for reason in verdict.reasons]
    return "\n".join(lines).rstrip() + "\n"


def open_or_update(ctx: StepContext, approved: str, attempt: int) -> PullRequest:
    """Push, then open the TaskSpec's PR, or update the one that is open."""
    push(ctx, approved)
    settings = ctx.project.config.integration
    base = base_branch(ctx)
    title = f"{ctx.tid}: {ctx.spec.title}"
    body_file = ctx.layout.logs / "integration" / ctx.tid / "pr-body.md"
    write_atomic(body_file, body(ctx, attempt))
    found = existing(ctx)
    if found is not None:
        edit = ["pr", "edit", str(found.number), "--title", title, "--body-file", str(body_file)]
        if found.base != base:
            edit += ["--base", base]
        _gh(ctx, *edit)
        return PullRequest(found.url, found.number, base)
    create = ["pr", "create", "--head", branch_of(ctx.tid), "--base", base, "--title", title]
    create += ["--body-file", str(body_file)]
    if settings.draft:
        create.append("--draft")
    for label in settings.labels:
        create += ["--label", label]
    url = _gh(ctx, *create).strip().splitlines()[-1].strip()
    shown = json.loads(_gh(ctx, "pr", "view", url, "--json", "number,url"))
    return PullRequest(str(shown["url"]), int(shown["number"]), base)


@dataclass
class Review:
    """The decisive review of a PR's pushed commit: approved, or changes requested with what the
    reviewer and the unresolved comment threads (people's, not bots') asked for."""

    state: str  # APPROVED | CHANGES_REQUESTED
    who: str
    feedback: str


REVIEW_THREADS = """query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) { pullRequest(number: $number) {
    reviewThreads(first: 100) { nodes { isResolved path line
      comments(first: 20) { nodes { body author { login __typename } } } } } } } }"""


def _person(author: dict[str, Any] | None) -> str | None:
    login = str((author or {}).get("login") or "")
    is_bot = (author or {}).get("__typename") == "Bot" or login.endswith("[bot]")
    return None if is_bot or not login else login


def review_of(ctx: StepContext, pr: PullRequest, commit: str) -> Review | None:
    """The latest approving or changes-requesting review by a person on `commit`, if any."""
    shown = json.loads(_gh(ctx, "pr", "view", str(pr.number), "--json", "latestReviews"))
    decisive = [
        r
        for r in shown.get("latestReviews") or []
        if r.get("state") in ("APPROVED", "CHANGES_REQUESTED")
        and (r.get("commit") or {}).get("oid") == commit
        and _person(r.get("author"))
    ]
    if not decisive:
        return None
    latest = max(decisive, key=lambda r: str(r.get("submittedAt") or ""))
    who = f"{_person(latest.get('author'))} (GitHub review of PR #{pr.number})"
    if latest["state"] == "APPROVED":
        return Review("APPROVED", who, str(latest.get("body") or ""))
    parts = [str(latest.get("body") or "").strip()]
    repo = json.loads(_gh(ctx, "repo", "view", "--json", "owner,name"))
    threads = json.loads(
        _gh(
            ctx,
            "api",
            "graphql",
            "-f",
            f"query={REVIEW_THREADS}",
            "-F",
            f"owner={repo['owner']['login']}",
            "-F",
            f"name={repo['name']}",
            "-F",
            f"number={pr.number}",
        )
    )
    pull = threads["data"]["repository"]["pullRequest"]
    for thread in pull["reviewThreads"]["nodes"]:
        if thread.get("isResolved"):
            continue
        for comment in thread["comments"]["nodes"]:
            author = _person(comment.get("author"))
            if author:
                where = f"{thread.get('path')}:{thread.get('line')}"
                parts.append(f"{where} ({author}): {str(comment.get('body') or '').strip()}")
    return Review("CHANGES_REQUESTED", who, "\n".join(p for p in parts if p))


def gh_available(cwd: Path) -> tuple[bool, str]:
    """Whether `gh` runs and is logged in (for doctor): (ok, what it said)."""
    try:
        done = run(["gh", "auth", "status"], cwd=cwd, check=False, timeout=30)
    except StepError as exc:
        return False, exc.message
    said = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, said[0] if said else f"exit {done.returncode}"
