"""The integration branch holds no TaskSpec work that hatchdoit did not land.

An unconfined agent's git could move the integration branch (in its worktree, a clone, `git
update-ref refs/heads/main HEAD` moves only the clone's ref; unconfined, it can push into the
target). So before every landing, and after every agent session, the branch is
checked: a commit on it that carries hatchdoit's trailers or is reachable from a `taskspec/*`
branch, yet is in no commit an `integrate.json` records as landed, is suspect. Then the build
stops with one line and a notice (`branch_tampered`); the branch is never rewritten: a person
decides. Commits a person made on the branch meanwhile are not suspect, and the history the
TaskSpecs started from is trusted: their worktree records' base commits, and the tips an
integration was refused on (its decision names the tip, which this check had passed; the next
attempt merges it into the TaskSpec's branch, a person's commits on it included). With
`integration.land_on: remote`, what hatchdoit last fetched from (or pushed to) the remote's
branch is trusted too: other runners land there.

A person who put TaskSpec work there on purpose marks the tip as accepted:
`git update-ref refs/hatchdoit/accepted/<branch> <tip>` (what it contains is trusted).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from hatchdoit.core.atomicio import read_json, write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.layout import Layout
from hatchdoit.records.decisions import read_decisions
from hatchdoit.records.models import IntegrationRecord, WorktreeRecord
from hatchdoit.records.notices import post_notice
from hatchdoit.records.schemas import try_load
from hatchdoit.run.branches import integration_branch, merges_into_branch
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git, has_commit, succeeds, try_git

TRAILERS = ("Hatchdoit-TaskSpec:", "Hatchdoit-Approved:")
COMMIT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # a full SHA-1 or SHA-256 id
SHOWN = 5  # suspect commits named in the notice


def accepted_ref(branch: str) -> str:
    return f"refs/hatchdoit/accepted/{branch}"


def _state_dirs(layout: Layout) -> list[Path]:
    root = layout.logs / "state"
    try:
        return [root / name for name in sorted(os.listdir(root))]
    except FileNotFoundError:
        return []


def landed_by_intent(
    repo: Path, tip: str, intent: Path, *, require_built: bool = False
) -> str | None:
    """The commit an interrupted integration landed (between its compare-and-swap and its
    integrate.json): on the branch's first-parent line since the tip its intent file names,
    carrying its `Hatchdoit-Approved` trailer. When the intent names the commit hatchdoit built
    and was about to land (`built`, written just before the compare-and-swap or push), only
    that commit counts, and only once `tip` contains it; `require_built`: an intent without it
    never counts (a remote's branch: the same approved commit landed by another runner was not
    tested here)."""
    try:
        data = read_json(intent)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    since, approved = str(data.get("tip") or ""), str(data.get("approved") or "")
    built = str(data.get("built") or "")
    if not (has_commit(repo, since) and has_commit(repo, approved)):
        return None
    if try_git(repo, "merge-base", "--is-ancestor", since, tip).returncode != 0:
        return None
    if built:
        on_tip = has_commit(repo, built) and succeeds(
            repo, "merge-base", "--is-ancestor", built, tip
        )
        if not on_tip:
            return None
        tip = built
    elif require_built:
        return None
    found = git(
        repo,
        "log",
        "--first-parent",
        "--format=%H",
        "-F",
        f"--grep=Hatchdoit-Approved: {approved}",
        f"{since}..{tip}",
    ).split()
    return found[0] if found else None


def fetched_tips(layout: Layout) -> Path:
    """Where hatchdoit records the tip of each remote integration branch it fetched or pushed
    (land_on: remote): what is on the remote's branch is trusted here."""
    return layout.logs / "landing" / "remote-tips.json"


def trust_fetched(layout: Layout, branch: str, tip: str) -> None:
    path = fetched_tips(layout)
    try:
        known = read_json(path)
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if known.get(branch) != tip:
        known[branch] = tip
        write_json_atomic(path, known)


def _fetched_tip(layout: Layout, branch: str) -> str:
    try:
        known = read_json(fetched_tips(layout))
    except (OSError, ValueError):
        return ""
    return str(known.get(branch) or "") if isinstance(known, dict) else ""


def trusted_commits(layout: Layout, repo: Path, branch: str, tip: str) -> list[str]:
    """What the branch may hold: every commit hatchdoit recorded as landed (or landed by an
    integration its intent file says was interrupted), the base commits TaskSpecs started from,
    and what a person accepted."""
    found: list[str] = []
    for folder in _state_dirs(layout):
        # The intent before integrate.json: an integration writes its intent before it moves
        # the branch and removes it after its integrate.json, so a landing the tip (read
        # before) holds is found by one or the other, never missed between the two reads.
        if (folder / "integrate.intent.json").is_file():
            by_intent = landed_by_intent(repo, tip, folder / "integrate.intent.json")
            if by_intent:
                found.append(by_intent)
        landed = try_load(folder / "integrate.json", IntegrationRecord)
        if landed is not None and landed.landed_commit:
            found.append(landed.landed_commit)
        made = try_load(folder / "worktree.json", WorktreeRecord)
        if made is not None:
            found.append(made.base_commit)
        found += [
            d.commit
            for d in read_decisions(layout, folder.name)
            if d.kind == "integration" and d.commit
        ]
    found.append(_fetched_tip(layout, branch))  # the remote's branch as hatchdoit fetched it
    accepted = try_git(repo, "rev-parse", "-q", "--verify", f"{accepted_ref(branch)}^{{commit}}")
    if accepted.returncode == 0:
        found.append(accepted.stdout.strip())
    # one git process for them all: a commit git no longer has is left out by --ignore-missing
    return sorted({c for c in found if COMMIT_ID.fullmatch(c)})


def suspect_commits(layout: Layout, repo: Path, branch: str) -> tuple[str, list[str]]:
    """The branch's tip and its suspect commits, newest first (see the module docstring)."""
    found = try_git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}")
    tip = found.stdout.strip()
    if found.returncode != 0 or not tip:
        return "", []  # no such branch (yet): nothing on it
    trusted = trusted_commits(layout, repo, branch, tip)
    exclude = [f"^{c}" for c in trusted]
    log = git(repo, "log", "--ignore-missing", "--format=%H%x1f%B%x1e", tip, *exclude, "--")
    on_branch: list[tuple[str, str]] = []
    for entry in log.split("\x1e"):
        commit, _, body = entry.strip().partition("\x1f")
        if commit:
            on_branch.append((commit, body))
    if not on_branch:
        return tip, []
    refs = git(repo, "for-each-ref", "--format=%(objectname)", "refs/heads/taskspec/").split()
    work = (
        set(git(repo, "rev-list", "--ignore-missing", *refs, *exclude, "--").split())
        if refs
        else set()
    )
    suspects = [
        commit
        for commit, body in on_branch
        if commit in work or any(f"\n{t}" in f"\n{body}" for t in TRAILERS)
    ]
    return tip, suspects


def guard_integration_branch(ctx: StepContext, branch: str, when: str) -> None:
    """Stop the build (a StepError) when the integration branch holds suspect commits; post a
    notice and an audit event first. Never moves the branch."""
    repo = ctx.project.target_repo
    tip, suspects = suspect_commits(ctx.layout, repo, branch)
    if not suspects:
        return
    shown = [
        git(repo, "log", "-1", "--format=%h %s", commit).strip() for commit in suspects[:SHOWN]
    ]
    payload = {
        "taskspec_id": ctx.tid,
        "branch": branch,
        "tip": tip,
        "suspects": suspects[:100],
        "shown": shown,
        "when": when,
        "repo": str(repo),
    }
    post_notice(ctx.layout, "branch_tampered", f"branch-tampered-{tip[:16]}", payload)
    ctx.audit("branch_tampered", branch=branch, tip=tip, suspects=suspects[:100], when=when)
    ctx.log(
        "orchestrator",
        logging.CRITICAL,
        f"{branch} holds TaskSpec work no integration landed",
        operation="guard_branch",
        tip=tip,
        suspects=shown,
    )
    raise StepError(
        f"{branch} is at {tip[:12]}, which holds {len(suspects)} commit(s) of TaskSpec work that "
        f"hatchdoit did not land (first: {shown[0]}), found {when}; the branch was not touched "
        "and the build stops",
        taskspec_id=ctx.tid,
        operation="guard_branch",
        path=repo,
        fix=(
            f"see `git -C {repo} reflog show {branch}`; if an agent moved it, put it back with "
            f"`git -C {repo} update-ref refs/heads/{branch} <last good commit> {tip}`; if a "
            f"person merged this work on purpose, `git -C {repo} update-ref "
            f"{accepted_ref(branch)} {tip}`; then rerun doit"
        ),
    )


def guard_after_session(ctx: StepContext, role: str) -> None:
    """After an agent's session: when approved work lands on the integration branch, the branch
    holds nothing the agent could have put there."""
    if not merges_into_branch(ctx):
        return  # integrate: none or pr: the branch is the person's to merge into
    repo = ctx.project.target_repo
    guard_integration_branch(ctx, integration_branch(ctx, repo), f"after the {role} session")
