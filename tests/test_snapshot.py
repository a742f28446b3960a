"""build/snapshot.py: a doit process that only looks (`doit list`) answers each up-to-date
question once; a build asks afresh every time (it writes artifacts as it goes)."""

from __future__ import annotations

import sys

import pytest

from hatchdoit.build import snapshot


@pytest.mark.parametrize(("argv", "calls"), [(["doit", "list", "--all"], 1), (["doit"], 2)])
def test_answers_once_only_when_looking(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], calls: int
) -> None:
    monkeypatch.setattr(sys, "argv", argv)
    snapshot.only_looking.cache_clear()
    asked: list[tuple[str, int]] = []

    @snapshot.once_when_looking
    def current(step: str, attempt: int) -> bool:
        asked.append((step, attempt))
        return True

    try:
        assert current("qa", 1) and current("qa", 1)
        assert current("qa", 2)
    finally:
        snapshot.only_looking.cache_clear()
    assert asked.count(("qa", 1)) == calls
    assert asked.count(("qa", 2)) == 1
