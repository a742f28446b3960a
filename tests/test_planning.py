"""Loading a planning repo's `_specs/` (hatchdoit.planning.load_plan)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchdoit.errors import EXIT_CONFIG, SpecError, SpecErrors
from hatchdoit.planning import MAX_SPEC_BYTES, Plan, load_plan
from hatchdoit.specs import FeatSpec, TaskSpec

FEAT = "FS-AUTH"


def write_md(
    root: Path, rel: str, front: dict[str, Any], body: str = "Do the work.\n"
) -> Path:
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


# --- valid repos -------------------------------------------------------------------------------


def test_valid_repo_loads(repo: Path) -> None:
    path = write_task(repo, "001-TS-2025-08-18-JWT-MIDDLEWARE", "Add JWT middleware.\n")
    plan = load_plan(repo)
    assert plan.errors == []
    assert list(plan.featspecs) == [FEAT]
    assert list(plan.taskspecs) == ["001-TS-2025-08-18-JWT-MIDDLEWARE"]
    spec = plan.taskspec("001-TS-2025-08-18-JWT-MIDDLEWARE")
    assert isinstance(spec, TaskSpec)
    assert spec.test_command == ["pytest", "-q"]
    assert spec.featspec == FEAT
    loaded = plan.taskspecs["001-TS-2025-08-18-JWT-MIDDLEWARE"]
    assert loaded.path == path
    assert loaded.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert isinstance(plan.featspecs[FEAT].spec, FeatSpec)
    assert plan.featspecs[FEAT].spec.body == "Auth feature."
    plan.raise_errors()  # no errors: nothing raised


def test_taskspecs_come_in_dependency_order(repo: Path) -> None:
    # File names sort opposite to the dependency order, so sorting alone cannot pass this.
    write_task(repo, "A-TS-TOP", depends_on=["B-TS-MID", "D-TS-SIDE"])
    write_task(repo, "B-TS-MID", depends_on="C-TS-BASE")
    write_task(repo, "C-TS-BASE")
    write_task(repo, "D-TS-SIDE", depends_on=["C-TS-BASE"])
    plan = load_plan(repo)
    assert plan.errors == []
    order = list(plan.taskspecs)
    assert sorted(order) == ["A-TS-TOP", "B-TS-MID", "C-TS-BASE", "D-TS-SIDE"]
    for tid in order:
        for dep in plan.taskspec(tid).depends_on:
            assert order.index(dep) < order.index(tid), order
    assert order[0] == "C-TS-BASE"
    assert order[-1] == "A-TS-TOP"


def test_body_is_the_markdown_after_front_matter(repo: Path) -> None:
    body = "\n\n# Work\n\nDo the thing.\n---\nNot front matter: `x`\n\n\n"
    write_task(repo, "T-TS-BODY", body)
    assert (
        load_plan(repo).taskspec("T-TS-BODY").body
        == "# Work\n\nDo the thing.\n---\nNot front matter: `x`"
    )


def test_plain_yaml_specs_load(repo: Path) -> None:
    front = task_front("Y-TS-PLAIN", depends_on=[], body="Do it.")
    write_raw(repo, "tasks/t.yaml", yaml.safe_dump(front))
    write_raw(repo, "feat.yml", yaml.safe_dump({"id": "FS-OTHER", "title": "Other"}))
    plan = load_plan(repo)
    assert plan.errors == []
    assert plan.taskspec("Y-TS-PLAIN").body == "Do it."
    assert set(plan.featspecs) == {FEAT, "FS-OTHER"}


def test_kind_field_decides_the_model(repo: Path) -> None:
    write_task(repo, "plain-task-id", kind="taskspec")
    plan = load_plan(repo)
    assert plan.errors == []
    assert list(plan.taskspecs) == ["plain-task-id"]


def test_readme_templates_dot_dirs_and_other_files_are_ignored(repo: Path) -> None:
    broken = "---\nthis: [is not valid\n---\n"
    write_raw(repo, "README.md", "# Planning repo\n")
    write_raw(repo, "features/README.md", "no front matter here\n")
    write_raw(repo, "_templates/taskspec.md", broken)
    write_raw(repo, "_templates/nested/deep.yaml", "id: [")
    write_raw(repo, ".git/HEAD.md", broken)
    write_raw(repo, ".drafts/x.md", broken)
    write_raw(repo, "notes.txt", "not a spec")
    write_raw(repo, "image.png", b"\x89PNG\r\n\x1a\n\x00\xff")
    write_task(repo, "T-TS-REAL")
    plan = load_plan(repo)
    assert plan.errors == []
    assert list(plan.taskspecs) == ["T-TS-REAL"]


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
    assert err.fix == f"add the field '{field}'"
    assert f"{path}: {field}: " in err.one_line()
    assert plan.taskspecs == {}


def test_blank_body_is_one_error_naming_body(repo: Path) -> None:
    path = write_task(repo, "T-TS-BLANK", " \n\t\n")
    err = only_error(load_plan(repo), path)
    assert err.field == "body" and "work description" in err.one_line()


def test_key_given_twice_is_one_error_naming_the_key(repo: Path) -> None:
    path = write_raw(
        repo, "t.md", "---\nid: T-TS-A\ntitle: t\nid: T-TS-B\n---\nDo the work.\n"
    )
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


# --- property: the body is handed over verbatim ------------------------------------------------

_SPECIALS = [
    "$(rm -rf /)",
    "`id`",
    "#{system('x')}",
    "${HOME}",
    "---",
    "\n---\n",
    "...",
    "'\"\\",
    "\r\n",
    "\t",
    "\x1b[31m",
    "日本語 🚀",
    "\u2028",
    "{{ jinja }}",
]
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
_BODIES = st.lists(st.one_of(_TEXT, st.sampled_from(_SPECIALS)), max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(body=_BODIES)
def test_body_round_trips_verbatim(body: str) -> None:
    body += "\nDo the work."  # never blank: a blank body is an error of its own
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_md(root, "feat.md", {"id": FEAT, "title": "Auth"})
        write_task(root, "P-TS-PROP", body)
        plan = load_plan(root)
        assert plan.errors == []
        assert plan.taskspec("P-TS-PROP").body == body.strip("\n")


# --- the parse cache (hatchdoit/parse_cache.py) ------------------------------------------------


def test_parse_cache_reuses_unchanged_files_and_sees_every_edit(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "specs.pickle"
    path = write_task(repo, "C-TS-1", "First version.\n")
    first = load_plan(repo, cache=cache)
    assert cache.is_file() and first.errors == []
    stamp = cache.stat().st_mtime_ns
    again = load_plan(repo, cache=cache)  # nothing changed: same result, cache not rewritten
    assert again.taskspec("C-TS-1") == first.taskspec("C-TS-1")
    assert again.taskspecs["C-TS-1"].source_sha256 == first.taskspecs["C-TS-1"].source_sha256
    assert cache.stat().st_mtime_ns == stamp
    size, mtime = path.stat().st_size, path.stat().st_mtime_ns
    path.write_text(path.read_text().replace("First", "Other"))  # same size ...
    os.utime(path, ns=(mtime, mtime))  # ... and mtime: only the ctime tells
    assert path.stat().st_size == size
    edited = load_plan(repo, cache=cache)
    assert edited.taskspec("C-TS-1").body == "Other version."
    assert edited.taskspecs["C-TS-1"].source_sha256 != first.taskspecs["C-TS-1"].source_sha256


def test_parse_cache_never_lets_an_invalid_spec_through(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "specs.pickle"
    path = write_task(repo, "C-TS-2")
    load_plan(repo, cache=cache)
    write_md(repo, path.name, task_front("C-TS-2", loc_cap=0))
    plan = load_plan(repo, cache=cache)
    assert "C-TS-2" not in plan.taskspecs
    assert only_error(plan, path).field == "loc_cap"


@pytest.mark.parametrize("content", [b"", b"not a pickle", b"\x80\x05N."])
def test_unreadable_parse_cache_is_ignored(repo: Path, tmp_path: Path, content: bytes) -> None:
    cache = tmp_path / "specs.pickle"
    write_task(repo, "C-TS-3")
    cache.write_bytes(content)
    plan = load_plan(repo, cache=cache)
    assert plan.errors == [] and "C-TS-3" in plan.taskspecs
