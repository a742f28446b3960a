"""hatchdoit/collector.py: the cycle collector held off while doit loads a plan, then resumed."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hatchdoit.core import collector


@pytest.fixture(autouse=True)
def restore_collector() -> Iterator[None]:
    was = gc.isenabled()
    yield
    collector._held_for_load = False
    gc.unfreeze()
    if was:
        gc.enable()
    else:
        gc.disable()


def test_hold_until_loaded_then_loaded_freezes_and_resumes() -> None:
    gc.enable()
    collector.hold_until_loaded()
    assert not gc.isenabled()
    graph = [{"task": n} for n in range(1000)]  # what a loaded graph leaves behind
    frozen = gc.get_freeze_count()
    collector.loaded()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + len(graph)
    gc.disable()  # a later call changes nothing: the hold is over
    collector.loaded()
    assert not gc.isenabled()


def test_hold_leaves_a_collector_someone_else_stopped_alone() -> None:
    gc.disable()
    frozen = gc.get_freeze_count()
    collector.hold_until_loaded()
    collector.loaded()
    assert not gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_collector_paused_restores_the_earlier_state_on_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector.collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    with collector.collector_paused():
        pass
    assert not gc.isenabled()
