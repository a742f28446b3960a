"""Pushing the records of a TaskSpec a runner holds, and releasing it, when the remote may fail
(shared/runner.py): a push is tried again a few times, then the claim's lease decides (not
renewed for a whole lease: counted lost, claims.overdue); a release that fails lets the lease
run out. Neither raises out of the runner's loop."""

from __future__ import annotations

from collections.abc import Callable

from hatchdoit.core.errors import HatchdoitError
from hatchdoit.layout import Layout
from hatchdoit.shared.claims import Claims
from hatchdoit.shared.remote_refs import Remote
from hatchdoit.shared.state_sync import BranchDiverged, push_state

PUSH_TRIES = 3


def release(claims: Claims, tid: str, say: Callable[[str], None]) -> None:
    """Release a claim; when the remote does not answer, its lease runs out instead."""
    try:
        claims.release(tid)
    except HatchdoitError as exc:
        say(f"hatchdoit ci: releasing {tid} failed ({exc}): its lease runs out")


def push_held(
    remote: Remote,
    layout: Layout,
    claims: Claims,
    tid: str,
    say: Callable[[str], None],
    pause: Callable[[], object],
    diverged: Callable[[str, BranchDiverged], None],
) -> bool:
    """Push the records of `tid` (held); a lease of its records that did not hold (a person's
    decision pushed meanwhile) is read again, a push that failed (the network) is tried again
    after `pause`. False: the claim was lost, or not renewed for a whole lease (overdue), or the
    remote's branch diverged (`diverged` was told)."""
    for _ in range(PUSH_TRIES):
        try:
            if push_state(remote, layout, tid, claims):
                return True
        except BranchDiverged as exc:
            diverged(tid, exc)
            return False
        except HatchdoitError as exc:
            say(f"hatchdoit ci: pushing the records of {tid} failed ({exc})")
            if claims.overdue(tid):
                return False
            pause()
        if tid not in claims.held:
            return False
    return tid in claims.held
