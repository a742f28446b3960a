"""Loading a valid planning repo's `_specs/` (hatchdoit.planning.plan.load_plan): TaskSpecs in
dependency order, bodies handed over verbatim (also as a hypothesis property), plain YAML specs,
what is ignored, and the parse cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from planning_repo import FEAT, only_error, repo, task_front, write_md, write_raw, write_task

from hatchdoit.planning.plan import load_plan
from hatchdoit.planning.specs import FeatSpec, TaskSpec

__all__ = ["repo"]  # fixtures


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


@pytest.mark.parametrize("command", ['pytest -q "tests/a b.py"', 'echo "unclosed', "", 7])
def test_parse_cache_hit_validates_test_command_as_a_fresh_parse(
    repo: Path, tmp_path: Path, command: object
) -> None:
    """The cache keeps test_command split (the argv the TaskSpec's validator makes of the
    string); a hit must give the same TaskSpec, or the same error, as parsing the file anew."""
    cache = tmp_path / "specs.pickle"
    write_task(repo, "C-TS-4", test_command=command)
    uncached = load_plan(repo)
    first, again = load_plan(repo, cache=cache), load_plan(repo, cache=cache)
    for plan in (first, again):
        assert [e.one_line() for e in plan.errors] == [e.one_line() for e in uncached.errors]
        assert plan.taskspecs.keys() == uncached.taskspecs.keys()
    if uncached.taskspecs:
        assert again.taskspec("C-TS-4") == uncached.taskspec("C-TS-4")
        assert again.taskspec("C-TS-4").test_command == ["pytest", "-q", "tests/a b.py"]
