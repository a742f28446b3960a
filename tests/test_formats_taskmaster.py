"""Reading Task Master plans (planning/formats/taskmaster.py) as TaskSpecs: tagged and legacy
tasks.json, the active tag, number and string ids, subtasks (a parent's text and dependencies
are each subtask's, a dependency on the parent is one on all of them, a subtask's bare number a
sibling), statuses, acceptance criteria and files, and bad input at its file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plan_formats import graph, line_number, load, messages, write

TM = ".taskmaster/tasks/tasks.json"


def task(tid: Any, title: str, deps: list[Any] | None = None, **more: Any) -> dict[str, Any]:
    fields = {"id": tid, "title": title, "description": f"{title}.", "status": "pending"}
    return {**fields, "dependencies": deps or [], "priority": "medium", **more}


def opened_at(path: Path, title: str) -> int:
    """The line of the `{` of the task titled `title` (json.dumps with indent 2 writes `{`, then
    `"id"`, then `"title"`, each on a line of its own)."""
    return line_number(path, f'"title": "{title}"') - 2


def tagged(root: Path, tags: dict[str, list[dict[str, Any]]], current: str | None = None) -> Path:
    data = {name: {"tasks": tasks, "metadata": {"description": f"{name} work"}} for name, tasks
            in tags.items()}  # fmt: skip
    path = write(root, TM, json.dumps(data, indent=2))
    if current is not None:
        write(root, ".taskmaster/state.json", json.dumps({"currentTag": current}))
    return path


AUTH = [
    task(1, "Set up the repo", status="done"),
    task("2", "Add the user model", [1], details="Write src/models/user.py.",
         testStrategy="Unit tests for the model", acceptanceCriteria=["a user has an email"],
         relevantFiles=[{"path": "src/models/user.py", "action": "create"}]),
    task(3, "Login flow", [2], details="Sessions live in cookies.", testStrategy="Log in works",
         subtasks=[
             task(1, "Password hashing", []),
             task(2, "Session cookie", [1], testStrategy="A cookie is set"),
             task(3, "Login form", ["3.1", 2], status="in-progress"),
         ]),
    task(4, "Rate limits", [3], status="deferred"),
    task(5, "Audit log", ["3.2", 4]),
]  # fmt: skip


def test_tags_subtasks_and_dependencies(tmp_path: Path) -> None:
    tagged(tmp_path, {"master": [task(1, "Readme")], "auth": AUTH}, current="auth")
    plan = load(tmp_path)
    assert plan.format == "taskmaster" and plan.errors == [] and plan.warnings == []
    assert list(plan.featspecs) == ["auth", "master"]  # the active tag first
    assert graph(plan) == {
        "master-1": [],
        "auth-1": [],
        "auth-2": ["auth-1"],
        "auth-3.1": ["auth-2"],  # the parent's dependency
        "auth-3.2": ["auth-3.1", "auth-2"],  # a bare number: its sibling
        "auth-3.3": ["auth-3.1", "auth-3.2", "auth-2"],
        "auth-4": ["auth-3.1", "auth-3.2", "auth-3.3"],  # on the parent: on every subtask
        "auth-5": ["auth-3.2", "auth-4"],
    }
    sub = plan.taskspec("auth-3.2")
    assert sub.title == "Session cookie"
    assert sub.body == (
        "Session cookie\n\nSession cookie.\n\n"
        "## Part of 3: Login flow\n\nLogin flow.\n\nSessions live in cookies."
    )
    assert sub.acceptance == ("Test strategy: A cookie is set",)
    assert plan.taskspec("auth-3.1").acceptance == ("Test strategy: Log in works",)  # parent's
    model = plan.taskspec("auth-2")
    assert model.acceptance == ("Test strategy: Unit tests for the model", "a user has an email")
    assert model.files == ("src/models/user.py (create)", "src/models/user.py")
    assert model.source == f"{TM}:{opened_at(tmp_path / TM, 'Add the user model')}"


def test_statuses(tmp_path: Path) -> None:
    tagged(tmp_path, {"auth": AUTH})
    plan = load(tmp_path)
    status = {tid: (plan.taskspec(tid).plan_status, plan.taskspec(tid).plan_note) for tid in
              ("auth-1", "auth-3.3", "auth-4", "auth-5")}  # fmt: skip
    assert status == {
        "auth-1": ("done", "done in the plan (status: done): not built"),
        "auth-3.3": (None, "in progress in the plan (status: in-progress): built"),
        "auth-4": ("skipped", "skipped in the plan (status: deferred): not built"),
        "auth-5": (None, "built without auth-4, skipped in the plan"),
    }
    cancelled = [task(1, "Parent", status="cancelled", subtasks=[task(1, "Child")])]
    tagged(tmp_path, {"x": cancelled, "y": [task(1, "Odd", status="completed"),
                                             task(2, "Weird", status="someday")]})  # fmt: skip
    plan = load(tmp_path)
    assert plan.taskspec("x-1.1").plan_note == (
        "skipped in the plan (status: cancelled, of parent 1): not built"
    )
    assert plan.taskspec("y-1").plan_status == "done"
    assert plan.taskspec("y-2").plan_status is None
    assert messages(plan.warnings) == [
        f"{tmp_path / TM}:{opened_at(tmp_path / TM, 'Weird')}: status: 'someday' is no "
        "Task Master status: built (task 'Weird') (fix: use one of: pending, in-progress, review, "
        "blocked, done, completed, cancelled, deferred)"
    ]


def test_legacy_file_string_ids_and_a_duplicated_id(tmp_path: Path) -> None:
    tasks = [task("1", "One"), task("2", "Two", ["1"]), task(2, "Two again", [1])]
    path = write(tmp_path, "tasks/tasks.json", json.dumps({"tasks": tasks}, indent=2))
    plan = load(tmp_path)
    assert plan.format == "taskmaster"
    assert graph(plan) == {"master-1": [], "master-2": ["master-1"], "master-2-2": ["master-1"]}
    line, first = opened_at(path, "Two again"), opened_at(path, "Two")
    assert messages(plan.warnings) == [
        f"{path}:{line}: id 2 given again (first at line {first}): "
        "read as 2-2, so its TaskSpec is master-2-2 (fix: give each task its own id in the plan)"
    ]


def test_unparseable_json_is_one_line_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, TM, '{\n  "master": {\n    "tasks": [\n      {"id": 1,}\n    ]\n  }\n}\n'
    )
    plan = load(tmp_path)
    assert messages(plan.errors) == [
        f"{path}:4: not valid JSON: Expecting property name enclosed in double quotes (column "
        "16) (fix: fix the JSON syntax (Task Master reads it the same way))"
    ]
    assert plan.taskspecs == {}


def test_bad_tasks_are_reported_and_the_rest_loads(tmp_path: Path) -> None:
    tasks = [
        task(1, "Good"),
        task(2, "Needs a ghost", [9]),
        task(3, "After the ghost", [2]),
        {"id": None, "title": "No id"},
        "not a task",
        task(4, "Cycle a", [5]),
        task(5, "Cycle b", [4]),
    ]
    path = tagged(tmp_path, {"master": tasks})
    plan = load(tmp_path)
    assert set(plan.taskspecs) == {"master-1"}
    lines = messages(plan.errors)
    ghost = opened_at(path, "Needs a ghost")
    assert f"{path}:{ghost}: 2: depends on 9, which {TM} has no task of" in lines[2]
    assert lines[:2] == [
        f"{path}:{opened_at(path, 'No id')}: id: is None, not a task id (task 'No id') "
        "(fix: correct it in tasks.json)",
        f"{path}:2: a task is str, not an object (fix: write each task as an object with id and "
        "title)",  # at its tag's line
    ]
    cycle = [line for line in lines if "dependency cycle" in line]
    assert len(cycle) == 2 and f"{path.parent.parent.parent}/{TM}:" in cycle[0]
    after = opened_at(path, "After the ghost")
    assert f"{path}:{after}: depends_on: depends on master-2, which cannot be built" in lines[3]
