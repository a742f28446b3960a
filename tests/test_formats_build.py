"""A foreign plan built end to end by real `doit` runs with the scripted agent: a small spec-kit
plan and a small Task Master plan (planning/formats/), delivered with `integrate: merge`, and a
Kiro plan without delivery, whose worktrees merge only the dependencies hatchdoit built. What
the plan marks done is not built and counts as a satisfied dependency, what it cancels is not
built and its dependents build anyway, and the TaskSpecs build in the order the plan says (the
audit trail), each ending in its done.json; a second run builds nothing."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from build_records import build_ok, done_record
from conftest import git, read_audit
from daily_use import hatchdoit
from projects import TEST_COMMAND, HatchProject, module_body

pytestmark = pytest.mark.integration


def indented(text: str, by: int = 2) -> str:
    return textwrap.indent(text, " " * by, lambda line: True).rstrip() + "\n"


def use_plan(project: HatchProject, planning: Path, fmt: str, *, via_env: bool = False) -> None:
    """Point the project at `planning` in hatchdoit.yaml, or with HATCHDOIT_SPECS (over the
    `_specs/` plan make_project wrote: `format: auto` then detects the foreign one)."""
    if via_env:
        project.env["HATCHDOIT_SPECS"] = str(planning)
    else:
        project.configure(specs=str(planning))
    project.configure(
        integrate="merge",
        planning={"format": fmt, "defaults": {"test_command": TEST_COMMAND, "loc_cap": 200}},
    )


def first(project: HatchProject, event: str, tid: str, step: str | None = None) -> int:
    """Index in the audit trail of the first `event` of `tid` (of `step`)."""
    for index, entry in enumerate(read_audit(project)):
        ours = entry["event"] == event and entry["taskspec_id"] == tid
        if ours and (step is None or entry.get("step") == step):
            return index
    raise AssertionError(f"no {event} {step or ''} of {tid} in the audit trail")


def assert_after(project: HatchProject, later: str, earlier: str) -> None:
    """`later`'s worktree was made after `earlier` was merged (its work is `later`'s base)."""
    merged = first(project, "step_end", earlier, "integrate")
    assert merged < first(project, "step_start", later, "worktree"), f"{later} before {earlier}"


def assert_not_built(project: HatchProject, tid: str) -> None:
    assert not project.layout.done(tid).exists()
    assert not project.layout.worktree(tid).exists()
    assert not [e for e in read_audit(project) if e["taskspec_id"] == tid]


def hatchdoit_status(project: HatchProject) -> dict[str, dict[str, object]]:
    done = hatchdoit(project, "status", "--json")
    assert done.returncode == 0, done.stderr
    return {row["taskspec_id"]: row for row in json.loads(done.stdout)["taskspecs"]}


SPEC_MD = """# Feature Specification: Text tools

### User Story 1 - Shout (Priority: P1)

A user turns text into shouting.

**Independent Test**: `shout("a")` returns `"A!"`

**Acceptance Scenarios**:

1. **Given** a word, **When** it is shouted, **Then** it is upper case with a `!`
"""


def write_speckit(root: Path) -> Path:
    feature = root / "specs" / "001-text-tools"
    feature.mkdir(parents=True)
    (feature / "spec.md").write_text(SPEC_MD, encoding="utf-8")
    (feature / "plan.md").write_text("# Implementation Plan: Text tools\n", encoding="utf-8")
    tasks = (
        "# Tasks: Text tools\n\n## Phase 1: Setup\n\n"
        "- [x] T001 Create the package in src/app/__init__.py\n"
        "- [ ] T002 Add the base module in src/app/m_base.py\n"
        + indented(module_body("m_base", "f_base"))
        + "\n## Phase 2: User Story 1 - Shout (Priority: P1)\n\n"
        "**Goal**: shouting\n\n"
        "- [ ] T003 [P] [US1] Add shout in src/app/m_shout.py\n"
        + indented(module_body("m_shout", "f_shout", "A!"))
        + "- [ ] T004 [US1] Add whisper in src/app/m_whisper.py, using\n"
        "  the shout module (depends on T003)\n"
        + indented(module_body("m_whisper", "f_whisper", "a"))
    )
    (feature / "tasks.md").write_text(tasks, encoding="utf-8")
    return root


def test_a_speckit_plan_builds_in_phase_order(project: HatchProject, tmp_path: Path) -> None:
    use_plan(project, write_speckit(tmp_path / "speckit"), "spec-kit")
    build_ok(project, timeout=300)
    ids = [f"001-text-tools-T00{n}" for n in (2, 3, 4)]
    for tid in ids:
        assert done_record(project, tid).attempt == 1, tid
    assert_not_built(project, "001-text-tools-T001")  # [x] in the plan
    assert_after(project, ids[1], ids[0])  # phase 2 waits for phase 1
    assert_after(project, ids[2], ids[1])  # no [P]: after the task before it (and depends on)
    target = project.root / "_target"
    for module in ("m_base", "m_shout", "m_whisper"):
        assert (target / "src" / "app" / f"{module}.py").is_file(), module
    prompt = project.layout.prompt(ids[1], "factory", 1).read_text(encoding="utf-8")
    assert "## Acceptance criteria" in prompt and "Independent test: `shout" in prompt
    assert "- Given a word, When it is shouted, Then it is upper case with a `!`" in prompt
    assert "- `src/app/m_shout.py`" in prompt  # the files to touch
    qa_prompt = project.layout.prompt(ids[1], "qa", 1).read_text(encoding="utf-8")
    assert "## Acceptance criteria" in qa_prompt
    status = hatchdoit_status(project)
    assert status["001-text-tools-T001"]["step"] == "done (in plan)"
    assert all(status[tid]["status"] == "done" for tid in ids)
    again = build_ok(project)
    assert "nothing to do" in again, again


def write_taskmaster(root: Path) -> Path:
    def task(
        tid: object, title: str, deps: list[object], status: str = "pending", **more: object
    ) -> dict[str, object]:
        fields = {"id": tid, "title": title, "description": title, "status": status}
        return {**fields, "dependencies": deps, "priority": "medium", **more}

    subtasks = [
        task(1, "Add m_three_a", [], details=module_body("m_three_a", "f_three_a")),
        task(2, "Add m_three_b", [1], details=module_body("m_three_b", "f_three_b")),
    ]
    strategy = "f_two() returns 'ok'"
    tasks = [
        task(1, "Set up the package", [], "done"),
        task("2", "Add m_two", [1], details=module_body("m_two", "f_two"), testStrategy=strategy),
        task(3, "Two helpers", [2], details="Both live in src/app/.", subtasks=subtasks),
        task(4, "A dropped idea", [], "cancelled"),
        task(5, "Add m_five", [4, 3], details=module_body("m_five", "f_five")),
    ]
    data = {"master": {"tasks": tasks, "metadata": {"description": "Main line"}}}
    path = root / ".taskmaster" / "tasks" / "tasks.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return root


def test_a_taskmaster_plan_builds_its_subtasks_and_skips_what_is_done(
    project: HatchProject, tmp_path: Path
) -> None:
    use_plan(project, write_taskmaster(tmp_path / "tm"), "auto", via_env=True)
    build_ok(project, "-n", "2", timeout=300)
    built = ["master-2", "master-3.1", "master-3.2", "master-5"]
    for tid in built:
        assert done_record(project, tid).attempt == 1, tid
    assert_not_built(project, "master-1")  # done in the plan
    assert_not_built(project, "master-4")  # cancelled
    assert_after(project, "master-3.1", "master-2")  # the parent's dependency is each sub-task's
    assert_after(project, "master-3.2", "master-3.1")  # a sibling, by its local id
    assert_after(project, "master-5", "master-3.1")  # a dependency on the parent: on both
    assert_after(project, "master-5", "master-3.2")
    branches = git(project.root / "_target", "branch", "--merged", "main")
    assert all(f"taskspec/{tid}" in branches for tid in built), branches
    status = hatchdoit_status(project)
    assert status["master-1"]["step"] == "done (in plan)"
    assert status["master-4"]["step"] == "skipped (in plan)"


def test_a_kiro_plan_without_delivery_merges_only_built_dependencies(
    project: HatchProject, tmp_path: Path
) -> None:
    """With `integrate: none` a dependent's worktree merges its dependencies' branches: one done
    in the plan has none, and is left out (its work is the target's already)."""
    two, three = indented(module_body("m_two", "f_two")), indented(module_body("m_three", "f_3"))
    tasks = (
        f"- [x] 1. Set up the package\n- [ ] 2. Add m_two\n{two}"
        f"- [ ] 3. Add m_three\n  - _Depends: 1, 2_\n{three}"
    )
    plan = tmp_path / "kiro"
    (plan / ".kiro" / "specs" / "tools").mkdir(parents=True)
    (plan / ".kiro" / "specs" / "tools" / "tasks.md").write_text(tasks, encoding="utf-8")
    use_plan(project, plan, "kiro")
    project.configure(integrate="none")
    build_ok(project, timeout=300)
    assert done_record(project, "tools-2").attempt == 1
    assert done_record(project, "tools-3").attempt == 1
    assert_not_built(project, "tools-1")
    record = json.loads(project.layout.worktree_record("tools-3").read_text(encoding="utf-8"))
    assert record["merged_dependencies"] == ["taskspec/tools-2"]
    assert (project.layout.worktree("tools-3") / "src" / "app" / "m_two.py").is_file()
