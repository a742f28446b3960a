"""What runs where: the claims of the runners sharing a build, as this machine last fetched
them (`hatchdoit status`, `--fetch` to fetch first), and the remote's records brought in."""

from __future__ import annotations

import math
import sys
from datetime import datetime, timedelta

from hatchdoit.build.runlock import build_running
from hatchdoit.core.errors import HatchdoitError
from hatchdoit.observe.status_models import RunnerClaim
from hatchdoit.project import Project
from hatchdoit.shared.claims import Claims
from hatchdoit.shared.remote_refs import STATE
from hatchdoit.shared.runner import remote_of
from hatchdoit.shared.snapshot_rules import SnapshotRefused
from hatchdoit.shared.state_sync import materialise, push_state

MAX_LEASE = 86400.0


def runner_claims(project: Project) -> list[RunnerClaim]:
    """The fetched claims (no network): who holds which TaskSpec, and until when."""
    remote = remote_of(project)
    if remote.unreachable_locally():
        return []
    claims = Claims(remote, "status", project.config.shared.lease_seconds)
    found = []
    for tid, sha in sorted(claims.observe().items()):
        record = claims.record(sha)
        until = _until(record.renewed_at, record.lease_seconds) if record is not None else None
        if record is None or until is None:
            found.append(RunnerClaim(taskspec_id=tid, runner="(malformed claim)",
                                     renewed_at="unknown", until="unknown"))  # fmt: skip
            continue
        found.append(
            RunnerClaim(
                taskspec_id=tid,
                runner=record.runner,
                renewed_at=record.renewed_at,
                until=until.isoformat(timespec="seconds"),
            )
        )
    return found


def _until(renewed_at: str, lease: float) -> datetime | None:
    """When a claim's lease runs out; None for a claim that makes no sense (no time, a lease
    that is not a number of seconds up to a day)."""
    if not math.isfinite(lease) or not 0 < lease <= MAX_LEASE:
        return None
    try:
        return datetime.fromisoformat(renewed_at) + timedelta(seconds=lease)
    except (ValueError, OverflowError):
        return None


def fetch_shared(project: Project) -> str | None:
    """Fetch the shared refs and bring in the records of TaskSpecs other runners built (not
    one this machine is building: claimed, with its worktree here). Why not, in one line."""
    remote = remote_of(project)
    why = remote.unreachable()
    if why is not None:
        return why
    remote.fetch()
    for ref, sha in remote.refs(STATE).items():
        tid = ref.removeprefix(STATE)
        if tid in project.plan.taskspecs and not building_here(project, tid):
            _materialise(project, tid, sha)
    project.refresh()
    return None


def building_here(project: Project, tid: str) -> bool:
    """A build runs on this machine (it holds the build lock: plain `doit` or a runner's doit
    child) or `tid`'s worktree is here: its records are this machine's own, not overwritten."""
    return build_running(project.layout.locks / "build.lock") or (
        project.layout.worktree(tid).exists()
    )


def _materialise(project: Project, tid: str, sha: str) -> None:
    """materialise; a snapshot refused is said in one line on stderr (nothing written)."""
    try:
        materialise(remote_of(project), project.layout, tid, sha)
    except SnapshotRefused as exc:
        print(f"hatchdoit: {exc.one_line()}", file=sys.stderr)


def bring_in(project: Project, tid: str) -> bool:
    """Before a person's decision on `tid` in a shared build (its records are on the remote):
    fetch them in, unless this machine builds it now. False: not shared (nothing done)."""
    remote = remote_of(project)
    if remote.unreachable_locally():
        return False
    try:
        if not remote.live([STATE + tid]):  # not a shared build (or not yet: nothing to fetch)
            return False
        remote.fetch()
    except HatchdoitError:  # offline: the decision is this machine's
        return False
    sha = remote.ref(STATE + tid)
    if sha is not None and not building_here(project, tid):
        _materialise(project, tid, sha)
        project.refresh()
    return True


def share_decision(project: Project, tid: str) -> str | None:
    """Push `tid`'s records with the decision just made (leased on the remote's): None when
    the remote has them, else why not in one line."""
    if not push_state(remote_of(project), project.layout, tid):
        return (
            f"the records of {tid} on the remote changed meanwhile (another runner or person): "
            "your decision is recorded here only; run the command again to decide on theirs"
        )
    return None
