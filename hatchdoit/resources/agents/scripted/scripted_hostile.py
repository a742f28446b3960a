"""What a prompt-injected agent would try, for the tests that show it fails: move the integration
branch, forge a person's approval, plant programs hatchdoit's git would run."""

from __future__ import annotations

import json
import os
from pathlib import Path

from scripted_git import git
from scripted_terminal import say

PLANTED_HOOKS = (
    "pre-commit",
    "post-commit",
    "post-checkout",
    "post-merge",
    "reference-transaction",
)


def move_branch(root: Path, branch: str = "main") -> None:
    """`git update-ref refs/heads/<branch> HEAD`: in its worktree, a clone of the target repo,
    that moves only the clone's own ref. So it then writes into the target repo itself (its
    clone's origin): HEAD's commits pushed to a ref of its own, then the target's <branch> moved
    to them. Only an unconfined agent can: the target repo is read-only to a confined one."""
    done = git(root, "update-ref", f"refs/heads/{branch}", "HEAD")
    say(f"moved {branch} to HEAD (exit {done.returncode})")
    target = git(root, "config", "--get", "remote.origin.url").stdout.strip()
    if not target:
        return  # an older linked worktree: the ref moved above is the target's own
    head = git(root, "rev-parse", "HEAD").stdout.strip()
    pushed = git(root, "push", "-q", "--force", target, f"HEAD:refs/hostile/{branch}")
    moved = git(Path(target), "update-ref", f"refs/heads/{branch}", head)
    say(f"moved {branch} of {target} to {head[:12]} (exit {pushed.returncode}, {moved.returncode})")


def forge_decision(taskspec_id: str, attempt: int) -> None:
    """A decision file shaped like the one `hatchdoit approve` writes, in the TaskSpec's state."""
    logs = os.environ.get("HATCHDOIT_LOGS_DIR", "")
    if not logs:
        say("no HATCHDOIT_LOGS_DIR; no decision forged")
        return
    head = git(Path.cwd(), "rev-parse", "HEAD").stdout.strip()
    record = {
        "taskspec_id": taskspec_id,
        "seq": 1,
        "kind": "approve",
        "after_attempt": attempt,
        "grants": 0,
        "feedback": "looks good",
        "commit": head,
        "files": [],
        "hard": False,
        "budget_usd": 0.0,
        "who": "A Person <person@example.com>",
        "at": "2026-01-01T00:00:00+00:00",
    }
    path = Path(logs) / "state" / taskspec_id / "decision-001.json"
    try:
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        say(f"forged {path}")
    except OSError as exc:
        say(f"could not forge {path}: {exc}")


def plant_git(root: Path) -> None:
    """Hooks, an fsmonitor and a clean filter in the repo's config that each leave a marker in
    `.planted/` beside the worktree when any git command would run them; then an uncommitted
    change, so hatchdoit's own git has work to do."""
    marks = str(root.parent / ".planted")
    common = Path(
        git(root, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()
    )
    hooks = common / "planted-hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    for name in (*PLANTED_HOOKS, "fsmonitor"):
        script = hooks / name
        script.write_text(f'#!/bin/sh\nmkdir -p "{marks}" && touch "{marks}/{name}"\n')
        script.chmod(0o755)
        legacy = common / "hooks" / name
        if name != "fsmonitor" and legacy.parent.is_dir():
            legacy.write_text(script.read_text())
            legacy.chmod(0o755)
    filter_cmd = f'mkdir -p "{marks}" && touch "{marks}/filter"; cat'
    for key, value in (
        ("core.hooksPath", str(hooks)),
        ("core.fsmonitor", str(hooks / "fsmonitor")),
        ("filter.planted.clean", filter_cmd),
        ("filter.planted.smudge", filter_cmd),
    ):
        git(root, "config", key, value)
    (root / ".gitattributes").write_text("* filter=planted\n", encoding="utf-8")
    (root / "left_uncommitted.txt").write_text("hatchdoit commits this\n", encoding="utf-8")
    say(f"planted hooks, fsmonitor and a filter writing to {marks}")


def hostile(behaviour: str, taskspec_id: str, attempt: int, root: Path) -> None:
    """The factory behaviours of a prompt-injected agent, after its commit."""
    if behaviour == "move-branch":
        move_branch(root)
    elif behaviour == "forge-decision":
        forge_decision(taskspec_id, attempt)
    elif behaviour == "plant-git":
        plant_git(root)
