"""Pushing the records of a TaskSpec a runner holds, and releasing it, when the remote may fail
(shared/runner.py): a push is tried again a few times, then the claim's lease decides (not
renewed for a whole lease: counted lost, claims.overdue); a release that fails lets the lease
run out. Neither raises out of the runner's loop."""

from __future__ import annotations

from collections.abc import Callable

from hatchdoit.core.errors import HatchdoitError
from hatchdoit.delivery.landing_fence import write_fence
from hatchdoit.layout import Layout
from hatchdoit.shared.claims import Claims
from hatchdoit.shared.remote_refs import Remote
from hatchdoit.shared.state_sync import BranchDiverged, push_state

PUSH_TRIES = 3


def fence(layout: Layout, claims: Claims, tid: str) -> None:
    """Keep the claim file a landing is fenced on (delivery/landing_fence.py) as held now."""
    write_fence(layout, tid, claims.held.get(tid))


def release(claims: Claims, tid: str, say: Callable[[str], None], layout: Layout) -> None:
    """Release a claim; when the remote does not answer, its lease runs out instead."""
    write_fence(layout, tid, None)  # no landing of it from here on
    try:
        claims.release(tid)
    except HatchdoitError as exc:
        say(f"hatchdoit ci: releasing {tid} failed ({exc}): its lease runs out")


def renewal(
    remote: Remote, layout: Layout, claims: Claims, diverged: Callable[[str, BranchDiverged], None]
) -> Callable[[str], bool]:
    """What the Renewer pushes for `tid`: its records with the claim (False: lost)."""

    def push(tid: str) -> bool:
        try:
            return push_state(remote, layout, tid, claims)
        except BranchDiverged as exc:
            diverged(tid, exc)
            return True  # said and given up: not a lost claim
        finally:
            fence(layout, claims, tid)

    return push


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
                fence(layout, claims, tid)
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
            fence(layout, claims, tid)
            return False
    return tid in claims.held
