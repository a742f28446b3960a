"""Which TaskSpecs this build may land: the ones whose `integrate` step doit will run.

A targeted build (`doit integrate:A`, `doit taskspec:A`) asks for A and what A needs, so the merge
queue's batch (steps/merge_batch.py) takes only TaskSpecs in this set; a build of everything
(`doit`, `doit integrate`) sets them all. build/run_scope.py sets it in the building process from
the tasks doit selected, before `doit -n N` forks its workers, which inherit it. Unset (a step
run outside a doit build): no limit.
"""

from __future__ import annotations

_SCOPE: list[frozenset[str]] = []


def set_landing_scope(tids: frozenset[str] | None) -> None:
    """The TaskSpecs this build may land (None: any)."""
    _SCOPE.clear()
    if tids is not None:
        _SCOPE.append(tids)


def may_land(tid: str) -> bool:
    """Whether this build may land `tid` (its integrate step is part of the build)."""
    return not _SCOPE or tid in _SCOPE[0]


def landing_scope() -> frozenset[str] | None:
    return _SCOPE[0] if _SCOPE else None
