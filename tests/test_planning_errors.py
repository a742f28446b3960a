"""A planning repo's problems (hatchdoit.planning.plan.load_plan): one error per problem, naming the
file, the field and a fix, while the good specs still load; and raise_errors, one line per error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from planning_repo import FEAT, only_error, repo, task_front, write_md, write_raw, write_task

from hatchdoit.core.errors import EXIT_CONFIG, SpecErrors
from hatchdoit.planning.frontmatter import MAX_SPEC_BYTES
from hatchdoit.planning.plan import load_plan

__all__ = ["repo"]  # fixtures


# --- one error per problem, naming file, field and fix -----------------------------------------


def test_bad_yaml_in_plain_yaml_reports_line(repo: Path) -> None:
    path = write_raw(repo, "t.yaml", "id: X-TS-1\ntitle: t\nowner: @bad\n")
    err = only_error(load_plan(repo), path)
    assert "YAML error at line 3" in err.message


def test_bad_yaml_in_front_matter_reports_file_line(repo: Path) -> None:
    # line 1: ---, line 2: id, line 3: title, line 4: the bad line
    path = write_raw(repo, "t.md", "---\nid: X-TS-1\ntitle: t\nowner: @bad\n---\nbody\n")
    err = only_error(load_plan(repo), path)
    assert "YAML error at line 4" in err.message


def test_bad_yaml_in_front_matter_is_one_error(repo: Path) -> None:
    path = write_raw(repo, "t.md", "---\nid: X-TS-1\ntitle: t\nowner: @bad\n---\nbody\n")
    err = only_error(load_plan(repo), path)
    assert err.message.startswith("YAML error at line ")
    assert "cannot start any token" in err.message


def test_no_front_matter(repo: Path) -> None:
    path = write_raw(repo, "t.md", "# Just a heading\n\nid: X-TS-1\n")
    err = only_error(load_plan(repo), path)
    assert "no YAML front matter" in err.message
    assert "---" in (err.fix or "")


def test_empty_markdown_file(repo: Path) -> None:
    path = write_raw(repo, "t.md", "")
    assert "no YAML front matter" in only_error(load_plan(repo), path).message


def test_unclosed_front_matter(repo: Path) -> None:
    path = write_raw(repo, "t.md", "---\nid: X-TS-1\ntitle: t\n\nBody without closing line\n")
    assert "not closed" in only_error(load_plan(repo), path).message


@pytest.mark.parametrize("front", ["- a\n- b\n", "just a string\n", "", "42\n"])
def test_front_matter_must_be_a_mapping(repo: Path, front: str) -> None:
    path = write_raw(repo, "t.md", f"---\n{front}---\nbody\n")
    assert "must be a mapping" in only_error(load_plan(repo), path).message


def test_body_key_in_front_matter_is_refused(repo: Path) -> None:
    path = write_md(repo, "t.md", {**task_front("T-TS-1"), "body": "sneaky"}, "real body")
    err = only_error(load_plan(repo), path)
    assert err.field == "body"


@pytest.mark.parametrize("field", ["title", "featspec", "loc_cap", "test_command"])
def test_missing_required_field(repo: Path, field: str) -> None:
    front = task_front("X-TS-MISSING")
    del front[field]
    path = write_md(repo, "t.md", front)
    plan = load_plan(repo)
    err = only_error(plan, path)
    assert err.field == field
    fix = f"add the field '{field}'"
    if field in ("loc_cap", "test_command"):
        fix += f", or set planning.defaults.{field} in hatchdoit.yaml"
    assert err.fix == fix
    assert f"{path}: {field}: " in err.one_line()
    assert plan.taskspecs == {}


def test_blank_body_is_one_error_naming_body(repo: Path) -> None:
    path = write_task(repo, "T-TS-BLANK", " \n\t\n")
    err = only_error(load_plan(repo), path)
    assert err.field == "body" and "work description" in err.one_line()


def test_key_given_twice_is_one_error_naming_the_key(repo: Path) -> None:
    path = write_raw(repo, "t.md", "---\nid: T-TS-A\ntitle: t\nid: T-TS-B\n---\nDo the work.\n")
    err = only_error(load_plan(repo), path)
    assert err.field == "id" and "given twice (lines 2 and 4)" in err.message


def test_missing_test_command_on_plain_id_names_test_command(repo: Path) -> None:
    front = task_front("build-login")
    del front["test_command"]
    path = write_md(repo, "t.md", front)
    err = only_error(load_plan(repo), path)
    assert err.field == "test_command"


def test_missing_id(repo: Path) -> None:
    path = write_md(repo, "t.md", {"title": "no id"})
    err = only_error(load_plan(repo), path)
    assert err.field == "id"
    assert err.fix == "add the field 'id'"


@pytest.mark.parametrize(
    "field, value",
    [
        ("loc_cap", "many"),
        ("loc_cap", 0),
        ("max_attempts", 99),
        ("depends_on", {"a": 1}),
        ("test_command", 'echo "unclosed'),
        ("title", ["a", "list"]),
    ],
)
def test_wrong_type_or_value(repo: Path, field: str, value: Any) -> None:
    path = write_task(repo, "X-TS-WRONG", **{field: value})
    plan = load_plan(repo)
    err = only_error(plan, path)
    assert err.field is not None and err.field.split(".")[0] == field
    assert err.fix == "correct the value"
    assert plan.taskspecs == {}


def test_unknown_key(repo: Path) -> None:
    path = write_task(repo, "X-TS-EXTRA", priority="high")
    err = only_error(load_plan(repo), path)
    assert err.field == "priority"
    assert "Extra inputs" in err.message
    assert "test_command" in (err.fix or "")  # lists the known fields


def test_invalid_id_in_file(repo: Path) -> None:
    path = write_task(repo, "X-TS-OK", id="../../etc/passwd")
    assert only_error(load_plan(repo), path).field == "id"


def test_duplicate_id_reports_second_file(repo: Path) -> None:
    first = write_md(repo, "a/first.md", task_front("X-TS-DUP", title="first"))
    second = write_md(repo, "b/second.md", task_front("X-TS-DUP", title="second"))
    plan = load_plan(repo)
    err = only_error(plan, second)
    assert err.field == "id"
    assert str(first) in err.message
    assert plan.taskspec("X-TS-DUP").title == "first"


def test_duplicate_id_across_featspec_and_taskspec(repo: Path) -> None:
    path = write_md(repo, "zz.md", task_front(FEAT, kind="taskspec"))
    plan = load_plan(repo)
    assert only_error(plan, path).field == "id"
    assert plan.taskspecs == {}


def test_unknown_featspec(repo: Path) -> None:
    path = write_task(repo, "X-TS-ORPHAN", featspec="FS-NOPE")
    err = only_error(load_plan(repo), path)
    assert err.field == "featspec"
    assert "FS-NOPE" in err.message


def test_unknown_depends_on_drops_only_that_taskspec(repo: Path) -> None:
    bad = write_task(repo, "X-TS-BAD", depends_on=["X-TS-GHOST"])
    write_task(repo, "X-TS-GOOD")
    plan = load_plan(repo)
    err = only_error(plan, bad)
    assert err.field == "depends_on"
    assert "X-TS-GHOST" in err.message
    assert list(plan.taskspecs) == ["X-TS-GOOD"]


def test_dependency_on_an_invalid_taskspec_is_reported(repo: Path) -> None:
    broken = write_task(repo, "X-TS-BROKEN", loc_cap=-1)
    dependent = write_task(repo, "X-TS-DEPENDENT", depends_on="X-TS-BROKEN")
    write_task(repo, "X-TS-FINE")
    plan = load_plan(repo)
    assert {e.path for e in plan.errors} == {str(broken), str(dependent)}
    assert len(plan.errors) == 2
    assert list(plan.taskspecs) == ["X-TS-FINE"]


def test_dependency_cycle(repo: Path) -> None:
    a = write_task(repo, "C-TS-A", depends_on=["C-TS-B"])
    b = write_task(repo, "C-TS-B", depends_on=["C-TS-C"])
    c = write_task(repo, "C-TS-C", depends_on=["C-TS-A"])
    dependent = write_task(repo, "D-TS-DEPENDENT", depends_on=["C-TS-A"])
    write_task(repo, "E-TS-BASE")
    write_task(repo, "F-TS-UNRELATED", depends_on=["E-TS-BASE"])
    plan = load_plan(repo)
    by_path = {e.path: e for e in plan.errors}
    assert len(plan.errors) == 4
    assert set(by_path) == {str(a), str(b), str(c), str(dependent)}
    for path in (a, b, c):
        err = by_path[str(path)]
        assert err.field == "depends_on"
        assert "cycle" in err.message
        assert all(tid in err.message for tid in ("C-TS-A", "C-TS-B", "C-TS-C"))
        assert err.fix
    assert by_path[str(dependent)].field == "depends_on"
    assert "C-TS-A" in by_path[str(dependent)].message
    assert "cycle" not in by_path[str(dependent)].message
    assert list(plan.taskspecs) == ["E-TS-BASE", "F-TS-UNRELATED"]


def test_self_dependency_is_a_cycle(repo: Path) -> None:
    path = write_task(repo, "S-TS-SELF", depends_on=["S-TS-SELF"])
    plan = load_plan(repo)
    err = only_error(plan, path)
    assert "cycle" in err.message
    assert plan.taskspecs == {}


def test_two_independent_cycles_are_both_reported(repo: Path) -> None:
    paths = [
        write_task(repo, "A-TS-1", depends_on=["A-TS-2"]),
        write_task(repo, "A-TS-2", depends_on=["A-TS-1"]),
        write_task(repo, "B-TS-1", depends_on=["B-TS-2"]),
        write_task(repo, "B-TS-2", depends_on=["B-TS-1"]),
    ]
    plan = load_plan(repo)
    assert sorted(str(e.path) for e in plan.errors) == sorted(str(p) for p in paths)
    assert plan.taskspecs == {}


def test_non_utf8_file(repo: Path) -> None:
    path = write_raw(repo, "t.md", b"---\nid: X-TS-1\ntitle: caf\xe9\n---\n")
    err = only_error(load_plan(repo), path)
    assert "UTF-8" in err.message


def test_binary_file_with_spec_suffix(repo: Path) -> None:
    path = write_raw(repo, "blob.yaml", bytes(range(256)) * 4)
    assert "UTF-8" in only_error(load_plan(repo), path).message


def test_file_over_one_mib(repo: Path) -> None:
    front = "---\n" + yaml.safe_dump(task_front("X-TS-HUGE")) + "---\n"
    path = write_raw(repo, "huge.md", front + "x" * MAX_SPEC_BYTES)
    plan = load_plan(repo)
    err = only_error(plan, path)
    assert str(MAX_SPEC_BYTES) in err.message
    assert plan.taskspecs == {}


def test_file_of_exactly_one_mib_loads(repo: Path) -> None:
    front = "---\n" + yaml.safe_dump(task_front("X-TS-BIG")) + "---\n"
    write_raw(repo, "big.md", front + "y" * (MAX_SPEC_BYTES - len(front)))
    plan = load_plan(repo)
    assert plan.errors == []
    assert len(plan.taskspec("X-TS-BIG").body) == MAX_SPEC_BYTES - len(front)


def test_broken_symlink(repo: Path) -> None:
    link = repo / "_specs" / "gone.md"
    link.symlink_to(repo / "nowhere.md")
    write_task(repo, "X-TS-STILL-LOADS")
    plan = load_plan(repo)
    err = only_error(plan, link)
    assert "symlink" in err.message
    assert list(plan.taskspecs) == ["X-TS-STILL-LOADS"]


def test_symlink_to_a_spec_is_followed(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "t.md"
    outside.write_text("---\n" + yaml.safe_dump(task_front("X-TS-LINKED")) + "---\nhi\n")
    (repo / "_specs" / "linked.md").symlink_to(outside)
    plan = load_plan(repo)
    assert plan.errors == []
    assert plan.taskspec("X-TS-LINKED").body == "hi"


def test_missing_specs_dir(tmp_path: Path) -> None:
    plan = load_plan(tmp_path)
    err = only_error(plan, tmp_path / "_specs")
    assert "_specs" in err.message
    assert plan.taskspecs == {} and plan.featspecs == {}


def test_each_bad_file_is_reported_and_good_ones_still_load(repo: Path) -> None:
    bad = [
        write_raw(repo, "1.md", "no front matter"),
        write_raw(repo, "2.md", "---\nid: x\n"),
        write_task(repo, "X-TS-3", loc_cap="ten"),
        write_raw(repo, "4.yaml", b"\xff\xfe"),
    ]
    write_task(repo, "X-TS-GOOD")
    plan = load_plan(repo)
    assert sorted(str(e.path) for e in plan.errors) == sorted(str(p) for p in bad)
    assert list(plan.taskspecs) == ["X-TS-GOOD"]


# --- raise_errors ------------------------------------------------------------------------------


def test_raise_errors_collects_one_line_per_error(repo: Path) -> None:
    write_raw(repo, "1.md", "no front matter")
    write_task(repo, "X-TS-2", priority="high")
    write_task(repo, "X-TS-3", depends_on="X-TS-GHOST")
    plan = load_plan(repo)
    assert len(plan.errors) == 3
    with pytest.raises(SpecErrors) as exc:
        plan.raise_errors()
    assert exc.value.errors == plan.errors
    assert exc.value.exit_code == EXIT_CONFIG
    lines = exc.value.one_line().splitlines()
    assert lines == [e.one_line() for e in plan.errors]
    assert "3 problem(s)" in str(exc.value)
