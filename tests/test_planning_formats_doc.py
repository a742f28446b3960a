"""docs/planning-formats.md's small examples, read as the doc's tables say: the spec-kit,
Task Master and Kiro blocks are loaded and their dependency graphs compared, so the doc cannot
drift from what hatchdoit does."""

from __future__ import annotations

import re
from pathlib import Path

from plan_formats import graph, load, write

DOC = Path(__file__).resolve().parent.parent / "docs" / "planning-formats.md"


def example(section: str) -> str:
    """The first fenced block after the `### <section>` heading."""
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index(f"### {section}\n") :]
    found = re.search(r"^```\w*\n(.*?)^```$", after, re.MULTILINE | re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_speckit_example(tmp_path: Path) -> None:
    write(tmp_path, "specs/001-photo-albums/tasks.md", example("spec-kit"))
    f = "001-photo-albums-"
    plan = load(tmp_path)
    assert graph(plan) == {
        f"{f}T001": [],
        f"{f}T002": [],
        f"{f}T003": [],
        f"{f}T004": [f"{f}T002*", f"{f}T003*"],
        f"{f}T005": [f"{f}T004"],
    }
    assert plan.taskspec(f"{f}T001").plan_status == "done"
    assert plan.taskspec(f"{f}T005").files == ("src/services/album.py",)


def test_the_taskmaster_example(tmp_path: Path) -> None:
    write(tmp_path, ".taskmaster/tasks/tasks.json", example("Task Master"))
    assert graph(load(tmp_path)) == {
        "master-1": [],
        "master-2.1": ["master-1"],
        "master-2.2": ["master-2.1", "master-1"],
        "master-3": ["master-2.2", "master-2.1"],
    }


def test_the_kiro_example(tmp_path: Path) -> None:
    write(tmp_path, ".kiro/specs/user-auth/tasks.md", example("Kiro"))
    plan = load(tmp_path)
    assert graph(plan) == {
        "user-auth-1": [],
        "user-auth-2.1": [],
        "user-auth-2.2": [],
        "user-auth-2.3": [],
        "user-auth-3": ["user-auth-2.1", "user-auth-2.2*"],
    }
    assert plan.taskspec("user-auth-2.3").plan_status == "skipped"
