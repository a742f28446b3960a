"""Shared by the tests of hatchdoit.planning.plan.load_plan (test_planning_*.py): writing spec files
into a planning repo's `_specs/`, a repo with one FeatSpec (`repo` fixture, imported by the test
modules that use it), and the check that a plan has exactly one error, naming its file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hatchdoit.core.errors import EXIT_CONFIG, SpecError
from hatchdoit.planning.plan import Plan

FEAT = "FS-AUTH"


def write_md(root: Path, rel: str, front: dict[str, Any], body: str = "Do the work.\n") -> Path:
    path = root / "_specs" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + body
    path.write_bytes(text.encode("utf-8"))
    return path


def write_raw(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / "_specs" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def task_front(tid: str, **overrides: Any) -> dict[str, Any]:
    front: dict[str, Any] = {
        "id": tid,
        "title": f"Task {tid}",
        "featspec": FEAT,
        "loc_cap": 100,
        "test_command": "pytest -q",
    }
    front.update(overrides)
    return front


def write_task(root: Path, tid: str, body: str = "Do the work.\n", **overrides: Any) -> Path:
    return write_md(root, f"{tid}.md", task_front(tid, **overrides), body)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A planning repo with one FeatSpec and no TaskSpecs yet."""
    write_md(tmp_path, "features/fs-auth.md", {"id": FEAT, "title": "Auth"}, "Auth feature.\n")
    return tmp_path


def only_error(plan: Plan, path: Path) -> SpecError:
    """Exactly one error, naming `path`, with a fix."""
    assert len(plan.errors) == 1, [e.one_line() for e in plan.errors]
    err = plan.errors[0]
    assert err.path == str(path)
    assert err.fix
    assert str(path) in err.one_line()
    assert err.exit_code == EXIT_CONFIG
    return err
