"""What runs where: the claims of the runners sharing a build, as this machine last fetched
them (`hatchdoit status`, `--fetch` to fetch first), and the remote's records brought in."""

from __future__ import annotations

from datetime import datetime, timedelta

from hatchdoit.core.errors import HatchdoitError
from hatchdoit.observe.status_models import RunnerClaim
from hatchdoit.project import Project
from hatchdoit.shared.claims import Claims
from hatchdoit.shared.remote_refs import STATE
from hatchdoit.shared.runner import remote_of
from hatchdoit.shared.state_sync import materialise, push_state


def runner_claims(project: Project) -> list[RunnerClaim]:
    """The fetched claims (no network): who holds which TaskSpec, and until when."""
    remote = remote_of(project)
    if remote.unreachable_locally():
        return []
    claims = Claims(remote, "status", project.config.shared.lease_seconds)
    found = []
    for tid, sha in sorted(claims.observe().items()):
        record = claims.record(sha)
        if record is None:
            continue
        try:
            until = datetime.fromisoformat(record.renewed_at) + timedelta(
                seconds=record.lease_seconds
            )
        except ValueError:
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


def fetch_shared(project: Project) -> str | None:
    """Fetch the shared refs and bring in the records of TaskSpecs other runners built (not
    one this machine is building: claimed, with its worktree here). Why not, in one line."""
    remote = remote_of(project)
    why = remote.unreachable()
    if why is not None:
        return why
    remote.fetch()
    claimed = set(Claims(remote, "status", project.config.shared.lease_seconds).observe())
    layout = project.layout
    for ref, sha in remote.refs(STATE).items():
        tid = ref.removeprefix(STATE)
        if tid in project.plan.taskspecs and not (tid in claimed and layout.worktree(tid).exists()):
            materialise(remote, layout, tid, sha)
    project.refresh()
    return None


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
    claims = Claims(remote, "decision", project.config.shared.lease_seconds)
    building_here = tid in claims.observe() and project.layout.worktree(tid).exists()
    if sha is not None and not building_here:
        materialise(remote, project.layout, tid, sha)
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
