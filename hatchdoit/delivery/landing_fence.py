"""What a landing on the remote pushes besides the integration branch, in the same atomic push,
when `hatchdoit ci --shared` runs it (landing_target.py; docs/ci.md "Several runners, one
build"):

- the fence: the runner's claim ref on each TaskSpec landed, leased on the claim's commit as the
  runner last pushed it (it keeps `_logs/shared/claims/<ID>.json` up to date, and sets
  HATCHDOIT_FENCE=1 for its doit child). A claim another runner took over fails the lease, so the
  landing is not made: only the claim's holder lands. The claim ref is pushed with the value it
  has (git checks the lease against what the remote advertised when the push began);
- the landing's intent, `refs/hatchdoit/landed/<ID>`: the commit the landing built. A runner
  that takes a TaskSpec over after the first one pushed to the branch but died before its
  records reached the remote finds it there (`landed_elsewhere`) and records the landing
  instead of merging again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.layout import Layout
from hatchdoit.run.gitops import git, try_git

FENCE_ENV = "HATCHDOIT_FENCE"
LANDED = "refs/hatchdoit/landed/"
CLAIMS = "refs/hatchdoit/claims/"


def fence_path(layout: Layout, tid: str) -> Path:
    return layout.logs / "shared" / "claims" / f"{tid}.json"


def write_fence(layout: Layout, tid: str, sha: str | None) -> None:
    """The claim this runner holds on `tid` (its commit on the remote), or none (released)."""
    path = fence_path(layout, tid)
    if sha is None:
        path.unlink(missing_ok=True)
    else:
        write_json_atomic(path, {"ref": CLAIMS + tid, "sha": sha})


def fences(layout: Layout, tids: list[str]) -> dict[str, str]:
    """{claim ref: sha} to lease a landing of `tids` on; empty outside `ci --shared`. A TaskSpec
    landed there without a claim file is fenced on "no claim" (its claim was released or lost)."""
    if os.environ.get(FENCE_ENV) != "1":
        return {}
    found = {}
    for tid in tids:
        try:
            found[CLAIMS + tid] = str(json.loads(fence_path(layout, tid).read_text())["sha"])
        except (OSError, ValueError, KeyError, TypeError):
            found[CLAIMS + tid] = ""
    return found


def fetch_spec(remote: str) -> str:
    return f"+{LANDED}*:refs/remotes/{remote}/hatchdoit/landed/*"


def landed_elsewhere(repo: Path, remote: str, tid: str, approved: str, tip: str) -> str | None:
    """The commit that landed `approved` of `tid` on the remote's branch (now at `tip`, its
    landed refs fetched with it), by a runner whose records did not reach the remote: the
    landed ref names a commit on `tip`, and the commit carrying `approved`'s trailer on its
    first-parent line is the one recorded. None: not landed."""
    found = try_git(repo, "rev-parse", "-q", "--verify",
                    f"refs/remotes/{remote}/hatchdoit/landed/{tid}^{{commit}}")  # fmt: skip
    built = found.stdout.strip()
    if found.returncode != 0 or not built:
        return None
    if try_git(repo, "merge-base", "--is-ancestor", built, tip).returncode != 0:
        return None
    commits = git(repo, "log", "--first-parent", "--format=%H", "-F", "--max-count=1",
                  f"--grep=Hatchdoit-Approved: {approved}", built).split()  # fmt: skip
    return commits[0] if commits else None
