"""Bad planning input: a corpus of malformed TaskSpecs and FeatSpecs beside valid ones.

Every malformed file must give one clear line from `hatchdoit validate` (exit 2) naming the file
and, where there is one, the field; the valid TaskSpecs beside them must still list (`doit list`)
and build. The corpus is written into one planning repo, checked by one real `hatchdoit validate`
process, and each entry is then a test of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import run_doit
from projects import HatchProject, make_project, module_body, write_taskspec

from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration

FS = "FS-001-TEST"  # the fixture's FeatSpec
GOOD = ("GOOD-1", "GOOD-2")  # valid TaskSpecs beside the corpus; GOOD-2 depends on GOOD-1


def front(fields: dict[str, object], body: str = "Do the work.") -> str:
    return "---\n" + yaml.safe_dump(fields, sort_keys=False, allow_unicode=True) + "---\n" + body


def task(tid: str, **overrides: object) -> dict[str, object]:
    """A valid TaskSpec's fields, with overrides; a value of None removes the field."""
    fields: dict[str, object] = {
        "id": tid,
        "title": f"TaskSpec {tid}",
        "featspec": FS,
        "loc_cap": 50,
        "test_command": "python3 -m unittest -q",
        "depends_on": [],
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True)
class Bad:
    """One corpus entry: files (relative to _specs/taskspecs unless they start with '../'),
    the field the line must name (None: a file-level problem) and a phrase it must contain."""

    files: dict[str, str | bytes | None]  # None: a broken symlink
    field: str | None
    says: str


CORPUS: dict[str, Bad] = {
    # -- the file itself
    "bad-yaml": Bad({"bad-yaml.md": "---\nid: [unclosed\ntitle: x\n---\nbody\n"}, None, "YAML"),
    "tab-indented-yaml": Bad({"tab.md": "---\nid: TAB-1\n\ttitle: x\n---\n"}, None, "YAML"),
    "no-front-matter": Bad(
        {"plain.md": "# Just a heading\n\nNo front matter.\n"}, None, "no YAML front matter"
    ),
    "unclosed-front-matter": Bad(
        {"unclosed.md": "---\nid: UNCLOSED-1\ntitle: x\n"}, None, "not closed"
    ),
    "front-matter-is-a-list": Bad({"list.md": "---\n- id\n- title\n---\n"}, None, "mapping"),
    "front-matter-is-a-string": Bad({"scalar.md": "---\njust words\n---\n"}, None, "mapping"),
    "empty-file": Bad({"empty.md": ""}, None, "no YAML front matter"),
    "binary-file": Bad({"binary.md": b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 20}, None, "UTF-8"),
    "huge-file": Bad(
        {"huge.md": front(task("HUGE-1"), "x" * (1024 * 1024 + 10))}, None, "byte limit"
    ),
    "broken-symlink": Bad({"broken.md": None}, None, "broken symlink"),
    "yaml-file-with-a-list": Bad({"listed.yaml": "- id: LISTED-1\n"}, None, "mapping"),
    "yaml-file-bad-syntax": Bad({"syntax.yaml": "id: SYNTAX-1\ntitle: [\n"}, None, "YAML"),
    # -- missing and wrong-typed fields
    "missing-id": Bad({"no-id.md": front(task("X", id=None))}, "id", "required"),
    "missing-title": Bad(
        {"no-title.md": front(task("NO-TITLE-1", title=None))}, "title", "required"
    ),
    "empty-title": Bad({"empty-title.md": front(task("EMPTY-TITLE-1", title=""))}, "title", ""),
    "missing-featspec": Bad(
        {"no-fs.md": front(task("NO-FS-1", featspec=None))}, "featspec", "required"
    ),
    "missing-test-command": Bad(
        {"no-cmd.md": front(task("NO-CMD-1", test_command=None))}, "test_command", "required"
    ),
    "loc-cap-not-a-number": Bad(
        {"cap-word.md": front(task("CAP-WORD-1", loc_cap="lots"))}, "loc_cap", "integer"
    ),
    "loc-cap-zero": Bad(
        {"cap-zero.md": front(task("CAP-ZERO-1", loc_cap=0))}, "loc_cap", "greater than 0"
    ),
    "max-attempts-zero": Bad(
        {"att-0.md": front(task("ATT-ZERO-1", max_attempts=0))}, "max_attempts", ""
    ),
    "max-attempts-huge": Bad(
        {"att-99.md": front(task("ATT-HUGE-1", max_attempts=99))}, "max_attempts", ""
    ),
    "test-command-empty": Bad(
        {"cmd-empty.md": front(task("CMD-EMPTY-1", test_command=[]))}, "test_command", ""
    ),
    "test-command-number": Bad(
        {"cmd-num.md": front(task("CMD-NUM-1", test_command=42))}, "test_command", ""
    ),
    "test-command-unbalanced-quote": Bad(
        {"cmd-quote.md": front(task("CMD-QUOTE-1", test_command='python3 -c "print(1)'))},
        "test_command",
        "quotation",
    ),
    "depends-on-a-mapping": Bad(
        {"deps-map.md": front(task("DEPS-MAP-1", depends_on={"a": 1}))}, "depends_on", ""
    ),
    "depends-on-twice": Bad(
        {"deps-twice.md": front(task("DEPS-TWICE-1", depends_on=["GOOD-1", "GOOD-1"]))},
        "depends_on",
        "twice",
    ),
    "depends-on-a-path": Bad(
        {"deps-path.md": front(task("DEPS-PATH-1", depends_on=["../GOOD-1"]))}, "depends_on", ""
    ),
    "unknown-key": Bad(
        {"unknown.md": front(task("UNKNOWN-KEY-1", priority="high"))}, "priority", "not permitted"
    ),
    "body-in-front-matter": Bad(
        {"body-key.md": front(task("BODY-KEY-1", body="x"))}, "body", "front matter"
    ),
    "unknown-scripted-behaviour": Bad(
        {"behaviour.md": front(task("BEHAVIOUR-1", scripted={"factory": "explode"}))},
        "scripted.factory.0",
        "succeed",
    ),
    "unknown-agent-key": Bad(
        {"agent-key.md": front(task("AGENT-KEY-1", agent={"reviewer": "scripted"}))},
        "agent.reviewer",
        "",
    ),
    "title-is-a-list": Bad(
        {"title-list.md": front(task("TITLE-LIST-1", title=["a", "b"]))}, "title", ""
    ),
    "id-is-a-number": Bad({"id-num.md": front(task("X", id=12345))}, "id", ""),
    # -- ids that would be paths, options or shell text
    "id-with-slash": Bad({"id-slash.md": front(task("team/ID-1"))}, "id", "letters, digits"),
    "id-with-dotdot": Bad({"id-dotdot.md": front(task("ID..UP"))}, "id", "'..'"),
    "id-is-dotdot-path": Bad({"id-up.md": front(task("../../etc"))}, "id", ""),
    "id-with-space": Bad({"id-space.md": front(task("ID WITH SPACE"))}, "id", ""),
    "id-with-command-substitution": Bad({"id-subst.md": front(task("$(touch PWNED)"))}, "id", ""),
    "id-with-backticks": Bad({"id-tick.md": front(task("`touch PWNED`"))}, "id", ""),
    "id-with-semicolon": Bad({"id-semi.md": front(task("ID;rm"))}, "id", ""),
    "id-with-pipe": Bad({"id-pipe.md": front(task("ID|cat"))}, "id", ""),
    "id-like-an-option": Bad({"id-opt.md": front(task("-rf"))}, "id", ""),
    "id-with-tmux-format": Bad({"id-tmux.md": front(task("#{pane_pid}"))}, "id", ""),
    "id-with-newline": Bad({"id-nl.md": front(task("ID\nNEXT"))}, "id", ""),
    "id-unicode": Bad({"id-uni.md": front(task("ЗАДАЧА-1"))}, "id", ""),
    "id-too-long": Bad({"id-long.md": front(task("L" * 200))}, "id", ""),
    # -- the graph
    "duplicate-id": Bad({"dup.md": front(task("GOOD-1"))}, "id", "duplicate id"),
    "dependency-cycle": Bad(
        {
            "cycle-a.md": front(task("CYCLE-A", depends_on=["CYCLE-B"])),
            "cycle-b.md": front(task("CYCLE-B", depends_on=["CYCLE-A"])),
        },
        "depends_on",
        "cycle",
    ),
    "self-dependency": Bad(
        {"self.md": front(task("SELF-1", depends_on=["SELF-1"]))}, "depends_on", "cycle"
    ),
    "unknown-dependency": Bad(
        {"unknown-dep.md": front(task("UDEP-1", depends_on=["NOPE-9"]))},
        "depends_on",
        "unknown TaskSpec",
    ),
    "depends-on-a-broken-taskspec": Bad(
        {"dep-broken.md": front(task("DEP-BROKEN-1", depends_on=["CYCLE-A"]))},
        "depends_on",
        "cannot be built",
    ),
    "unknown-featspec": Bad(
        {"unknown-fs.md": front(task("UFS-1", featspec="FS-404"))}, "featspec", "unknown FeatSpec"
    ),
    # -- FeatSpecs
    "featspec-missing-title": Bad(
        {"../featspecs/fs-notitle.md": front({"id": "FS-NOTITLE", "kind": "featspec"})},
        "title",
        "required",
    ),
    "featspec-unknown-key": Bad(
        {
            "../featspecs/fs-extra.md": front(
                {"id": "FS-EXTRA", "title": "x", "kind": "featspec", "loc_cap": 3}
            )
        },
        "loc_cap",
        "not permitted",
    ),
    "featspec-bad-id": Bad(
        {"../featspecs/fs-badid.md": front({"id": "FS/1", "title": "x", "kind": "featspec"})},
        "id",
        "",
    ),
}


def write_corpus(specs: Path) -> dict[str, list[Path]]:
    """Write every entry under specs/_specs; return the paths of each entry's files."""
    taskspecs = specs / "_specs" / "taskspecs"
    taskspecs.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for name, bad in CORPUS.items():
        written[name] = []
        for rel, content in bad.files.items():
            path = (taskspecs / rel).resolve() if rel.startswith("../") else taskspecs / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                path.symlink_to(specs / "no-such-target.md")
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            written[name].append(path)
    return written


@dataclass
class Checked:
    project: HatchProject
    files: dict[str, list[Path]]
    validate: subprocess.CompletedProcess[str]
    listing: subprocess.CompletedProcess[str]
    build: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    project = make_project(tmp_path_factory.mktemp("corpus"))
    try:
        for n, tid in enumerate(GOOD):
            write_taskspec(
                project.planning,
                tid,
                FS,
                module_body(f"good{n}", f"good{n}", str(n)),
                depends_on=list(GOOD[:n]),
            )
        files = write_corpus(project.planning)
        validate = subprocess.run(
            [sys.executable, "-m", "hatchdoit", "--root", str(project.root), "validate"],
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        listing = run_doit(project, "list", "--all", "taskspec", timeout=60)
        build = run_doit(project, timeout=180)
        return Checked(project, files, validate, listing, build)
    finally:
        project.tmux("kill-server")


def test_validate_exits_2_with_no_traceback(checked: Checked) -> None:
    assert checked.validate.returncode == 2, checked.validate.stdout + checked.validate.stderr
    assert "Traceback" not in checked.validate.stderr
    counted = f"{len(GOOD)} TaskSpec(s): {len(GOOD)} to build,"
    assert counted in checked.validate.stdout, checked.validate.stdout
    print(
        f"\n[bad input] {len(CORPUS)} corpus entries, "
        f"{len(checked.validate.stderr.splitlines())} problem lines"
    )


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


def test_every_problem_line_names_a_file_of_the_corpus(checked: Checked) -> None:
    """No stray lines: each line of validate's stderr is about one corpus file."""
    paths = [str(p) for files in checked.files.values() for p in files]
    for line in checked.validate.stderr.splitlines():
        assert any(line.startswith(p + ":") for p in paths), line


@pytest.mark.parametrize("name", list(CORPUS))
def test_malformed_spec_gives_one_clear_line(checked: Checked, name: str) -> None:
    bad = CORPUS[name]
    lines = checked.validate.stderr.splitlines()
    for path in checked.files[name]:
        about = [line for line in lines if line.startswith(f"{path}:")]
        assert len(about) == 1, f"{name}: expected one line about {path}, got {about}"
        line = about[0]
        if bad.field is not None:
            assert line.startswith(f"{path}: {bad.field}: "), line
        assert bad.says in line, line
        assert "(fix: " in line or bad.field is None, line


def test_valid_taskspecs_beside_the_corpus_still_list_and_build(checked: Checked) -> None:
    listing = checked.listing
    assert listing.returncode == 0, listing.stderr
    listed = sorted(
        line.split()[0].removeprefix("taskspec:")
        for line in listing.stdout.splitlines()
        if line.startswith("taskspec:")
    )
    assert listed == sorted(GOOD), listing.stdout
    built = checked.build  # the valid ones build, then the left-out ones fail the build
    assert built.returncode == 1, built.stdout + built.stderr
    assert "spec(s) left out" in built.stdout + built.stderr
    for tid in GOOD:
        assert load_valid(checked.project.layout.done(tid), DoneRecord).attempt == 1
    assert "Traceback" not in checked.build.stderr


def test_nothing_in_the_corpus_was_executed(checked: Checked) -> None:
    """Ids like `$(touch PWNED)` are data: no PWNED file anywhere in the project or planning."""
    base = checked.project.root.parent
    assert not [p for p in base.rglob("PWNED*")]
    assert not Path("PWNED").exists()


# --------------------------------------------------------------------------------------------
# Input that is fine for the loader but not for the build


def one_taskspec(tmp_path: Path, fields: dict[str, object], body: str) -> HatchProject:
    project = make_project(tmp_path)
    write_taskspec(project.planning, "GOOD-1", FS, module_body("good", "good", "g"))
    path = project.planning / "_specs" / "taskspecs" / "odd.md"
    path.write_text(front(fields, body), encoding="utf-8")
    return project


def validate(project: HatchProject) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(project.root), "validate"],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_empty_body_is_reported(tmp_path: Path) -> None:
    project = one_taskspec(tmp_path, task("EMPTY-BODY-1"), "")
    done = validate(project)
    assert done.returncode == 2
    assert "odd.md: body: " in done.stderr, done.stderr


def test_duplicate_yaml_key_is_reported(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    path = project.planning / "_specs" / "taskspecs" / "twice.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = front(task("TWICE-A")).replace("id: TWICE-A\n", "id: TWICE-A\nid: TWICE-B\n")
    path.write_text(text, encoding="utf-8")
    done = validate(project)
    assert done.returncode == 2
    assert f"{path}: id: " in done.stderr, done.stderr


def test_unknown_agent_profile_does_not_stop_the_others(tmp_path: Path) -> None:
    project = one_taskspec(tmp_path, task("AGENT-404", agent={"factory": "no-such-agent"}), "x")
    done = validate(project)
    assert done.returncode == 2 and "no-such-agent" in done.stderr
    listing = run_doit(project, "list", "--all", "taskspec", timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert "taskspec:GOOD-1" in listing.stdout


def test_unknown_agent_profile_line_names_the_taskspec(tmp_path: Path) -> None:
    project = one_taskspec(tmp_path, task("AGENT-404", agent={"factory": "no-such-agent"}), "x")
    done = validate(project)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if "no-such-agent" in line]
    assert len(lines) == 1, done.stderr
    odd = project.planning / "_specs" / "taskspecs" / "odd.md"
    assert lines[0].startswith(f"{odd}: agent.factory: "), lines[0]


def test_fifo_in_specs_does_not_hang_validate(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    write_taskspec(project.planning, "GOOD-1", FS, module_body("good", "good", "g"))
    os.mkfifo(project.planning / "_specs" / "taskspecs" / "pipe.md")
    done = validate(project)
    assert "1 TaskSpec(s): 1 to build," in done.stdout, done.stdout + done.stderr
