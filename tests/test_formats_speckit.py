"""Reading GitHub spec-kit plans (planning/formats/speckit.py) as TaskSpecs: the template's
layout with the quirks of real files (wrapped descriptions, `T002a`, `[x]` and `[X]`, leading
spaces, a duplicated id, a sample task in a code block), old-style `## Phase 3.1` files with a
dependencies section, the dependencies the phases and `[P]` imply, user stories' acceptance
criteria, several features, and what is wrong in a plan reported at its file and line."""

from __future__ import annotations

from pathlib import Path

from plan_formats import graph, line_number, load, messages, write

F = "001-photo-albums"

TASKS = """
---
description: "Task list for photo albums"
---

# Tasks: Photo albums

## Format: `[ID] [P?] [Story] Description`

```text
- [ ] T999 A sample line in a code block, not a task
```

## Phase 1: Setup (Shared Infrastructure)

**Purpose**: Project initialization

- [x] T001 Create project structure per implementation plan
- [ ] T002 Initialize the Python project in pyproject.toml
- [ ] T002a [P] Configure linting in ruff.toml

---

## Phase 2: User Story 1 - Upload photos (Priority: P1) MVP

**Goal**: Users upload photos into albums

**Independent Test**: upload a photo and see it in the album

### Tests for User Story 1

  - [ ] T003 [P] [US1] Contract test for upload in tests/contract/test_upload.py
- [ ] T004 [P] [US1] Create the Album model in src/models/album.py
- [X] T005 [US1] Implement AlbumService in src/services/album_service.py
      (depends on T003, T004)
- [ ] T006 [US1] Add the upload endpoint in
  src/api/upload.py, wrapped onto a second line
  - reject files that are not images
- [ ] T006 [US1] Log each upload

## Phase 3: Polish & Cross-Cutting Concerns

- [ ] T007 [P] Documentation updates in docs/
- [ ] T008 Run quickstart.md validation (depends on T006)
"""

SPEC = """
# Feature Specification: Photo albums

## User Scenarios & Testing

### User Story 1 - Upload photos (Priority: P1)

A user uploads photos into an album.

**Why this priority**: nothing works without photos

**Independent Test**: an uploaded photo is listed in its album

**Acceptance Scenarios**:

1. **Given** an empty album, **When** I upload a JPEG, **Then** the album lists it
2. **Given** an album, **When** I upload a text file,
   **Then** it is refused

---

### User Story 2 - Share albums (Priority: P2)

Later.
"""


def photo_albums(root: Path) -> Path:
    write(root, f"specs/{F}/tasks.md", TASKS)
    write(root, f"specs/{F}/spec.md", SPEC)
    write(root, f"specs/{F}/plan.md", "# Implementation Plan: Photo albums\n")
    return root


def ids(*keys: str) -> set[str]:
    return {f"{F}-{key}" for key in keys}


def test_the_template_layout_with_real_world_quirks(tmp_path: Path) -> None:
    plan = load(photo_albums(tmp_path))
    assert plan.format == "spec-kit" and plan.errors == []
    assert list(plan.featspecs) == [F]
    assert plan.featspecs[F].spec.title == "Photo albums"
    keys = ("T001", "T002", "T002a", "T003", "T004", "T005", "T006", "T006-2", "T007", "T008")
    t = {key: f"{F}-{key}" for key in keys}
    assert graph(plan) == {
        t["T001"]: [],
        t["T002"]: [],  # T001 is done in the plan: passed over
        t["T002a"]: [],  # [P]
        t["T003"]: [t["T002"] + "*", t["T002a"] + "*"],  # phase 2 waits for phase 1
        t["T004"]: [t["T002"] + "*", t["T002a"] + "*"],
        t["T005"]: [t["T003"], t["T004"]],  # done: its stated dependencies only
        t["T006"]: [t["T003"] + "*", t["T004"] + "*"],  # no [P]: the [P] tasks before it
        t["T006-2"]: [t["T006"] + "*"],
        t["T007"]: [t["T006-2"] + "*"],
        t["T008"]: [t["T006"], t["T007"] + "*"],  # `depends on T006`: the first T006
    }  # and T999, in a code block, is no task
    first, again = plan.taskspec(t["T006"]), plan.taskspec(t["T006-2"])
    assert first.title == "Add the upload endpoint in src/api/upload.py, wrapped onto a second line"
    assert again.title == "Log each upload"
    path = tmp_path / f"specs/{F}/tasks.md"
    once, twice = line_number(path, "T006 [US1]"), line_number(path, "T006 [US1]", 2)
    assert messages(plan.warnings) == [
        f"{path}:{twice}: id T006 given again (first at line {once}): read as "
        f"T006-2, so its TaskSpec is {F}-T006-2 (fix: give each task its own id in the plan)"
    ]
    assert first.source == f"specs/{F}/tasks.md:{once}"
    t003 = line_number(path, "  - [ ] T003")  # leading spaces
    assert plan.taskspec(t["T003"]).source == f"specs/{F}/tasks.md:{t003}"
    assert plan.taskspec(t["T001"]).plan_status == "done"  # [x]
    assert plan.taskspec(t["T005"]).plan_status == "done"  # [X]
    assert plan.taskspec(t["T005"]).plan_note == "done in the plan ([X]): not built"
    assert plan.taskspec(t["T002"]).plan_status is None
    assert first.files == ("src/api/upload.py",)
    assert plan.taskspec(t["T007"]).files == ("docs/",)
    assert plan.taskspec(t["T008"]).files == ("quickstart.md",)


def test_a_story_task_gets_its_story_as_context_and_acceptance(tmp_path: Path) -> None:
    plan = load(photo_albums(tmp_path))
    spec = plan.taskspec(f"{F}-T006")
    assert spec.acceptance == (
        "Independent test: upload a photo and see it in the album",  # the phase's, first
        "Given an empty album, When I upload a JPEG, Then the album lists it",
        "Given an album, When I upload a text file, Then it is refused",
    )
    assert spec.body.startswith(
        "Add the upload endpoint in src/api/upload.py, wrapped onto a second line\n\n"
        "- reject files that are not images\n\n"
        "## Phase 2: User Story 1 - Upload photos (Priority: P1) MVP\n\n"
        "Goal: Users upload photos into albums\n\n"
        "## From spec.md: user story 1\n\n"
        "### User Story 1 - Upload photos (Priority: P1)\n\nA user uploads photos into an album."
    )
    assert "User Story 2" not in spec.body
    setup = plan.taskspec(f"{F}-T002")
    assert setup.acceptance == () and "From spec.md" not in setup.body


def test_without_a_phase_test_the_story_s_independent_test_counts(tmp_path: Path) -> None:
    write(tmp_path, "specs/002-x/tasks.md", "## Phase 1: Stories\n\n- [ ] T001 [US1] Do it\n")
    write(tmp_path, "specs/002-x/spec.md", SPEC)
    spec = load(tmp_path).taskspec("002-x-T001")
    assert spec.acceptance[0] == "Independent test: an uploaded photo is listed in its album"


OLD_STYLE = """
# Tasks: User API

## Phase 3.1: Setup
- [ ] T001 Create project structure
- [ ] T002 [P] Configure linting

## Phase 3.2: Tests First (TDD)
- [ ] T003 [P] Contract test POST /api/users in tests/contract/test_users_post.py
- [ ] T004 [P] Contract test GET /api/users/{id} in tests/contract/test_users_get.py
- [ ] T004a [P] Integration test in tests/integration/test_users.py

## Phase 3.3: Core Implementation
- [ ] T005 [P] User model in src/models/user.py
- [ ] T006 UserService CRUD in src/services/user_service.py
- [ ] T007 POST /api/users endpoint

## Dependencies
- Tests (T003-T004) before implementation (T005-T007)
- T005 blocks T006, T007
- T003-T004 block T007
- **T007** depends on T006
"""


def test_old_style_phases_and_a_dependencies_section(tmp_path: Path) -> None:
    write(tmp_path, "specs/002-user-api/tasks.md", OLD_STYLE)
    plan = load(tmp_path, infer_order=False)
    assert plan.errors == [] and plan.warnings == []
    u = {key: f"002-user-api-{key}" for key in ("T003", "T004", "T004a", "T005", "T006", "T007")}
    explicit = {k: v for k, v in graph(plan).items() if v}
    assert explicit == {
        u["T006"]: [u["T005"]],
        u["T007"]: [u["T005"], u["T003"], u["T004"], u["T004a"], u["T006"]],  # a range, T004a in
    }
    inferred = graph(load(tmp_path))
    assert inferred[u["T003"]] == ["002-user-api-T001*", "002-user-api-T002*"]
    assert inferred[u["T005"]] == [u["T003"] + "*", u["T004"] + "*", u["T004a"] + "*"]
    assert inferred[u["T006"]] == [u["T005"]]  # stated: not marked as inferred
    assert load(tmp_path).taskspec(u["T004"]).files == ("tests/contract/test_users_get.py",)


def test_timestamped_features_all_read_and_include_picks(tmp_path: Path) -> None:
    for name in ("20250101-120000-search", "003-export"):
        write(tmp_path, f"specs/{name}/tasks.md", "## Phase 1\n\n- [ ] T001 Do it\n")
    write(tmp_path, "specs/notes/readme.md", "not a feature\n")
    plan = load(tmp_path)
    assert list(plan.featspecs) == ["003-export", "20250101-120000-search"]
    assert set(plan.taskspecs) == {"003-export-T001", "20250101-120000-search-T001"}
    picked = load(tmp_path, include=["003-export"])
    assert list(picked.taskspecs) == ["003-export-T001"] and picked.errors == []
    wrong = load(tmp_path, include=["004-nothing"])
    assert messages(wrong.errors) == [
        f"hatchdoit.yaml: planning.include: names '004-nothing', which the spec-kit plan at "
        f"{tmp_path} has no feature of (fix: use the names of its features or tags: "
        "003-export, 20250101-120000-search)"
    ]


def test_an_unknown_dependency_is_reported_at_its_line_and_the_rest_loads(tmp_path: Path) -> None:
    tasks = """
    ## Phase 1

    - [ ] T001 First
    - [ ] T002 [P] Second (depends on T099)
    - [ ] T003 [P] Third

    ## Dependencies

    - T050 blocks T003
    - T001 blocks T077
    """
    path = write(tmp_path, "specs/001-a/tasks.md", tasks)
    plan = load(tmp_path, infer_order=False)
    assert messages(plan.errors) == [
        f"{path}:10: names T077, which tasks.md has no task of (fix: name the id of a task of "
        "this feature, or remove the line)",
        f"{path}:4: T002: depends on T099, which specs/001-a/tasks.md has no task of (fix: name "
        "the id of a task of this feature, or remove the dependency)",
        f"{path}:9: T003: depends on T050, which specs/001-a/tasks.md has no task of (fix: name "
        "the id of a task of this feature, or remove the dependency)",
    ]
    assert list(plan.taskspecs) == ["001-a-T001"]


def test_infer_order_false_keeps_only_what_the_plan_says(tmp_path: Path) -> None:
    plan = load(photo_albums(tmp_path), infer_order=False)
    assert all(not plan.taskspec(tid).inferred_deps for tid in plan.taskspecs)
    assert graph(plan)[f"{F}-T008"] == [f"{F}-T006"]
    assert graph(plan)[f"{F}-T003"] == []


def test_a_taskspec_digest_follows_its_own_inputs_only(tmp_path: Path) -> None:
    """An edit elsewhere in tasks.md (even a line added above) reruns nothing; its own line, its
    story in spec.md and its defaults do."""
    photo_albums(tmp_path)
    tasks, spec = tmp_path / f"specs/{F}/tasks.md", tmp_path / f"specs/{F}/spec.md"

    def digests(**planning: object) -> dict[str, str]:
        return {tid: s.source_sha256 for tid, s in load(tmp_path, **planning).taskspecs.items()}

    before = digests()
    tasks.write_text(tasks.read_text().replace("# Tasks: Photo albums", "# Tasks: Albums\n\nx"))
    tasks.write_text(tasks.read_text().replace("Documentation updates", "Docs updates"))
    after = digests()
    changed = {tid for tid in before if before[tid] != after[tid]}
    assert changed == {f"{F}-T007"}
    spec.write_text(spec.read_text().replace("upload a JPEG", "upload a PNG"))
    story = {tid for tid, sha in digests().items() if sha != after[tid]}
    assert story == ids("T003", "T004", "T005", "T006", "T006-2")
    assert digests(defaults={"loc_cap": 50}) != digests()


def test_a_task_without_its_feature_s_test_command_is_a_config_error(tmp_path: Path) -> None:
    photo_albums(tmp_path)
    plan = load(tmp_path, defaults={"test_command": []})
    assert messages(plan.errors) == [
        f"hatchdoit.yaml: planning.defaults.test_command: feature {F} has no test command: its "
        f"plan names none (fix: set planning.defaults.test_command (or planning.features.{F}"
        ".test_command), e.g. 'python3 -m pytest -q')"
    ]
    assert plan.taskspecs == {} and list(plan.featspecs) == [F]
    fixed = load(tmp_path, defaults={"test_command": []}, features={F: {"test_command": "make"}})
    assert fixed.errors == [] and fixed.taskspec(f"{F}-T002").test_command == ["make"]


def test_a_line_that_looks_like_a_task_but_is_none_is_a_warning(tmp_path: Path) -> None:
    tasks = """
    ## Phase 1

    - [ ] T01 A two-digit id
    - [-] T002 A box spec-kit does not have
    - [ ] **T003** A bold id is read
    - [ ] Tests pass (a checklist line: no id, no warning)
    """
    path = write(tmp_path, "specs/001-a/tasks.md", tasks)
    plan = load(tmp_path)
    assert list(plan.taskspecs) == ["001-a-T003"]
    fix = "(fix: write it as `- [ ] T001 Description` (`[x]` when done): T and 3 or more digits)"
    assert messages(plan.warnings) == [
        f"{path}:3: looks like a task line but is not one: not read {fix}",
        f"{path}:4: looks like a task line but is not one: not read {fix}",
    ]
