"""Reading Kiro specs (planning/formats/kiro.py) as TaskSpecs: major tasks and sub-tasks,
indented or flush-left, their detail bullets, `_Requirements:` as acceptance criteria from
requirements.md, optional `*` tasks, the statuses, the order the numbering implies (and the
cc-sdd variant's `(P)` and `_Depends:`), and a cycle that inference takes part in."""

from __future__ import annotations

from pathlib import Path

from plan_formats import graph, line_number, load, messages, write

FEATURE = ".kiro/specs/user-auth"

TASKS = """
# Implementation Plan

- [x] 1. Set up the project structure
  - Create src/auth/ and tests/
  - _Requirements: 1_

- [ ] 2. Build the authentication core
  - Everything a login needs
- [ ] 2.1 Hash passwords in src/auth/hashing.py
  - Use a slow hash
  - _Requirements: 1.1, 2.2_
- [-] 2.2 (P) Store sessions
  - _Requirements: 2.1_
  - [ ]* 2.3 Write unit tests for sessions
    - cover expiry

- [~] 3. Add the login endpoint (P)
  - _Depends: 2.1_
- [ ] 4. Wire everything together
  - _Requirements: 9.1_
"""

REQUIREMENTS = """
# Requirements Document

## Introduction

Users log in.

## Requirements

### Requirement 1: Log in

**User Story:** As a user, I want to log in, so that I see my data

#### Acceptance Criteria

1. WHEN a user gives the right password THEN the system SHALL log them in
2. WHEN the password is wrong THEN the system SHALL refuse
   and say why

### Requirement 2

**User Story:** As a user, I want to stay logged in

#### Acceptance Criteria

1. WHEN a session is made THEN the system SHALL set a cookie
2. WHEN a session expires THEN the system SHALL ask to log in again
"""


def user_auth(root: Path) -> Path:
    write(root, f"{FEATURE}/tasks.md", TASKS)
    write(root, f"{FEATURE}/requirements.md", REQUIREMENTS)
    write(root, f"{FEATURE}/design.md", "# Design\n")
    return root


def test_tasks_sub_tasks_order_and_statuses(tmp_path: Path) -> None:
    plan = load(user_auth(tmp_path))
    assert plan.format == "kiro" and plan.errors == []
    assert graph(plan) == {
        "user-auth-1": [],
        "user-auth-2.1": [],  # 2 waits for 1, done in the plan: nothing to wait for
        "user-auth-2.2": [],  # (P) after its number
        "user-auth-2.3": [],  # optional: skipped
        "user-auth-3": ["user-auth-2.1"],  # _Depends:, and (P) at its end: no order edge
        "user-auth-4": ["user-auth-2.1*", "user-auth-2.2*", "user-auth-3*"],  # waits for 3 and
        # for 2, which ran beside it: all of 2's sub-tasks still to build
    }
    status = {tid: plan.taskspec(tid).plan_status for tid in plan.taskspecs}
    assert status == {
        "user-auth-1": "done",
        "user-auth-2.1": None,
        "user-auth-2.2": None,
        "user-auth-2.3": "skipped",
        "user-auth-3": None,
        "user-auth-4": None,
    }
    assert plan.taskspec("user-auth-2.2").plan_note == "in progress in the plan ([-]): built"
    assert plan.taskspec("user-auth-2.3").plan_note == (
        "skipped in the plan (optional `*`): not built"
    )
    path = tmp_path / FEATURE / "tasks.md"
    assert plan.taskspec("user-auth-2.3").source == (
        f"{FEATURE}/tasks.md:{line_number(path, '2.3 Write')}"  # indented below 2.2: still 2's
    )
    [warning] = messages(plan.warnings)
    assert warning == (
        f"{path}:{line_number(path, '4. Wire')}: 4: refers to requirement 9.1, which "
        "requirements.md has no criterion of (fix: name a `### Requirement N` and a numbered "
        "acceptance criterion of it)"
    )


def test_requirements_become_acceptance_criteria_and_the_parent_context(tmp_path: Path) -> None:
    plan = load(user_auth(tmp_path))
    hashing = plan.taskspec("user-auth-2.1")
    assert hashing.acceptance == (
        "Requirement 1.1: WHEN a user gives the right password THEN the system SHALL log them in",
        "Requirement 2.2: WHEN a session expires THEN the system SHALL ask to log in again",
    )
    assert hashing.files == ("src/auth/hashing.py",)
    assert hashing.body == (
        "Hash passwords in src/auth/hashing.py\n\n- Use a slow hash\n- _Requirements: 1.1, 2.2_"
        "\n\n## Part of 2: Build the authentication core\n\n- Everything a login needs"
        "\n\n## Requirement 1 (requirements.md)\n\nUser story: As a user, I want to log in, so "
        "that I see my data\n\n## Requirement 2 (requirements.md)\n\nUser story: As a user, I "
        "want to stay logged in"
    )
    setup = plan.taskspec("user-auth-1")  # `_Requirements: 1`: every criterion of requirement 1
    assert setup.acceptance[1] == (
        "Requirement 1.2: WHEN the password is wrong THEN the system SHALL refuse and say why"
    )


def test_optional_tasks_can_be_built_and_inference_turned_off(tmp_path: Path) -> None:
    plan = load(user_auth(tmp_path), optional_tasks="build", infer_order=False)
    assert plan.taskspec("user-auth-2.3").plan_status is None
    assert graph(plan)["user-auth-4"] == []
    assert graph(plan)["user-auth-3"] == ["user-auth-2.1"]


ESCAPED = r"""
- [ ] 1. Build the core
- [ ] 1.1 Write the parser
- [ ]\* 1.2 Write property tests for the parser
  - _Requirements: 1.1_
- [ ] \* 1.3 Write fuzz tests
- [x]\* 1.4 Write a benchmark
"""


def test_optional_tasks_with_an_escaped_star_as_real_kiro_files_write_them(
    tmp_path: Path,
) -> None:
    """`- [ ]\\* 1.2`: Markdown shows the escaped star as `- [ ]* 1.2`, an optional task."""
    write(tmp_path, f"{FEATURE}/tasks.md", ESCAPED)
    write(tmp_path, f"{FEATURE}/requirements.md", REQUIREMENTS)
    plan = load(tmp_path)
    assert plan.errors == [] and messages(plan.warnings) == []
    status = {tid: plan.taskspec(tid).plan_status for tid in plan.taskspecs}
    assert status == {
        "user-auth-1.1": None,
        "user-auth-1.2": "skipped",
        "user-auth-1.3": "skipped",
        "user-auth-1.4": "done",
    }
    assert plan.taskspec("user-auth-1.2").title == "Write property tests for the parser"
    built = load(tmp_path, optional_tasks="build")
    assert built.taskspec("user-auth-1.2").plan_status is None
    assert built.taskspec("user-auth-1.3").plan_status is None
    assert built.taskspec("user-auth-1.2").acceptance[0].startswith("Requirement 1.1: WHEN")


def test_flush_left_sub_tasks_and_a_plain_sequence(tmp_path: Path) -> None:
    tasks = """
    - [ ] 1. First
    - [ ] 1.1 First part
    - [ ] 1.2 Second part
      - detail
    - [ ] 2. Second
      - [ ] 2.1 Indented part
      - [ ] 2.2 Another
    - [ ] 3. Third
    """
    write(tmp_path, ".kiro/specs/b/tasks.md", tasks)
    assert graph(load(tmp_path)) == {
        "b-1.1": [],
        "b-1.2": ["b-1.1*"],
        "b-2.1": ["b-1.1*", "b-1.2*"],  # 2 waits for 1: all of its sub-tasks
        "b-2.2": ["b-2.1*", "b-1.1*", "b-1.2*"],
        "b-3": ["b-2.1*", "b-2.2*"],
    }


def test_a_cycle_that_inference_closes_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path, ".kiro/specs/c/tasks.md", "- [ ] 1. One\n  - _Depends: 2_\n- [ ] 2. Two\n"
    )
    plan = load(tmp_path)
    assert plan.taskspecs == {}
    assert messages(plan.errors)[0] == (
        f"{path}:1: depends_on: dependency cycle: c-1 -> c-2 -> c-1 (fix: remove one of the "
        "dependencies in the cycle; c-2 -> c-1 come from the plan's order (planning.infer_order: "
        "false drops them))"
    )
    assert load(tmp_path, infer_order=False).errors == []
    dangling = write(tmp_path, ".kiro/specs/c/tasks.md", "- [ ] 1. One\n  - _Depends: 7_\n")
    assert messages(load(tmp_path).errors) == [
        f"{dangling}:2: 1: depends on 7, which .kiro/specs/c/tasks.md has no task of (fix: name "
        "the id of a task of this feature, or remove the dependency)"
    ]


def test_a_checkbox_without_a_number_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, ".kiro/specs/d/tasks.md", "- [ ] 1. One\n- [ ] Unnumbered\n")
    plan = load(tmp_path)
    assert list(plan.taskspecs) == ["d-1"]
    assert messages(plan.warnings) == [
        f"{path}:2: a checkbox without a task number: not read (fix: write it as `- [ ] 1. "
        "Title` or `- [ ] 1.1 Title`)"
    ]
