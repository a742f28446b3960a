"""`hatchdoit plan [--json]` (cli/plan.py) against the dependency graphs each format should
give, `hatchdoit validate` exiting 2 on a foreign plan's bad input, the format detection and the
`planning:` block `hatchdoit init` is to write (planning/formats/registry.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from daily_use import hatchdoit
from plan_formats import TEST_COMMAND, load, messages, write
from projects import HatchProject, make_project
from test_formats_kiro import user_auth
from test_formats_speckit import photo_albums
from test_formats_taskmaster import AUTH, TM, tagged

from hatchdoit.planning.formats.registry import detect_format, detect_formats, planning_block

pytestmark = pytest.mark.integration


@pytest.fixture
def plain(tmp_path: Path) -> HatchProject:
    """A project (no tmux needed: nothing is built) whose plan the test points it at."""
    return make_project(tmp_path)


def plan_json(project: HatchProject, planning: Path, **settings: Any) -> dict[str, Any]:
    defaults = {"test_command": TEST_COMMAND, **settings.pop("defaults", {})}
    project.configure(specs=str(planning), planning={"defaults": defaults, **settings})
    done = hatchdoit(project, "plan", "--json")
    assert done.returncode in (0, 2), done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def edges(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        row["id"]: [d + "*" if d in row["inferred"] else d for d in row["depends_on"]]
        for row in report["taskspecs"]
    }


def test_plan_json_of_a_speckit_plan(plain: HatchProject, tmp_path: Path) -> None:
    report = plan_json(plain, photo_albums(tmp_path / "sk"))
    assert report["format"] == "spec-kit" and report["errors"] == []
    f = "001-photo-albums-"
    assert edges(report) == {
        f"{f}T001": [],
        f"{f}T002": [],
        f"{f}T002a": [],
        f"{f}T003": [f"{f}T002*", f"{f}T002a*"],
        f"{f}T004": [f"{f}T002*", f"{f}T002a*"],
        f"{f}T005": [f"{f}T003", f"{f}T004"],
        f"{f}T006": [f"{f}T003*", f"{f}T004*"],
        f"{f}T006-2": [f"{f}T006*"],
        f"{f}T007": [f"{f}T006-2*"],
        f"{f}T008": [f"{f}T006", f"{f}T007*"],
    }
    assert list(edges(report)) == sorted(edges(report))  # in the plan's order
    row = report["taskspecs"][0]
    assert row["source"] == "specs/001-photo-albums/tasks.md:17"
    assert row["status"] == "done (in plan)" and row["loc_cap"] == 400
    assert len(report["warnings"]) == 1 and "T006 given again" in report["warnings"][0]


def test_plan_json_of_a_taskmaster_plan(plain: HatchProject, tmp_path: Path) -> None:
    tagged(tmp_path / "tm", {"auth": AUTH})
    report = plan_json(plain, tmp_path / "tm", defaults={"loc_cap": 120, "max_attempts": 2})
    assert edges(report) == {
        "auth-1": [],
        "auth-2": ["auth-1"],
        "auth-3.1": ["auth-2"],
        "auth-3.2": ["auth-3.1", "auth-2"],
        "auth-3.3": ["auth-3.1", "auth-3.2", "auth-2"],
        "auth-4": ["auth-3.1", "auth-3.2", "auth-3.3"],
        "auth-5": ["auth-3.2", "auth-4"],
    }
    rows = {row["id"]: row for row in report["taskspecs"]}
    assert rows["auth-4"]["status"] == "skipped (in plan)"
    assert rows["auth-2"]["acceptance"] == ["Test strategy: Unit tests for the model",
                                            "a user has an email"]  # fmt: skip
    assert (rows["auth-2"]["loc_cap"], rows["auth-2"]["max_attempts"]) == (120, 2)


def test_plan_text_of_a_kiro_plan(plain: HatchProject, tmp_path: Path) -> None:
    plain.configure(specs=str(user_auth(tmp_path / "kiro")),
                    planning={"defaults": {"test_command": TEST_COMMAND}})  # fmt: skip
    done = hatchdoit(plain, "plan")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    counts = "6 TaskSpec(s): 4 to build, 1 done in the plan, 1 skipped in the plan"
    assert f"read as kiro: 1 FeatSpec(s), {counts}" in text
    assert "  user-auth-4  [to build]  Wire everything together" in text
    assert (
        "      depends on: user-auth-2.1 (order), user-auth-2.2 (order), user-auth-3 (order)"
        in text
    )
    assert "      note: skipped in the plan (optional `*`): not built" in text
    assert "        - Requirement 1.1: WHEN a user gives the right password" in text
    assert "warnings:\n" in text and "refers to requirement 9.1" in text


def test_plan_of_a_native_plan(plain: HatchProject) -> None:
    plain.add_taskspec("A-TS-ONE")
    plain.add_taskspec("B-TS-TWO", depends_on=["A-TS-ONE"])
    done = hatchdoit(plain, "plan", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["format"] == "hatchdoit"
    assert edges(report) == {"A-TS-ONE": [], "B-TS-TWO": ["A-TS-ONE"]}
    assert report["taskspecs"][0]["source"] == "_specs/taskspecs/A-TS-ONE.md"


def test_validate_exits_2_on_a_foreign_plan_s_bad_input(
    plain: HatchProject, tmp_path: Path
) -> None:
    broken = tmp_path / "tm"
    path = write(broken, TM, '{"master": {"tasks": [\n  {"id": 1, "title": "x"\n]}}\n')
    plain.configure(specs=str(broken), planning={"defaults": {"test_command": TEST_COMMAND}})
    done = hatchdoit(plain, "validate")
    assert done.returncode == 2
    assert f"{path}:3: not valid JSON: Expecting ',' delimiter (column 1)" in done.stderr
    assert hatchdoit(plain, "plan").returncode == 2
    path.write_text(
        json.dumps({"master": {"tasks": [{"id": 1, "title": "x", "dependencies": [2]}]}})
    )
    done = hatchdoit(plain, "validate")
    assert done.returncode == 2 and "depends on 2, which" in done.stderr
    path.write_text(json.dumps({"master": {"tasks": [{"id": 1, "title": "x"}]}}))
    done = hatchdoit(plain, "validate")
    assert done.returncode == 0, done.stderr
    assert "1 TaskSpec(s): 1 to build, 0 problem(s)" in done.stdout


def test_detection_and_the_planning_block_for_init(tmp_path: Path) -> None:
    assert detect_format(tmp_path) is None
    with pytest.raises(Exception, match="no plan found"):
        planning_block(tmp_path)
    user_auth(tmp_path)
    assert detect_format(tmp_path) == "kiro"
    tagged(tmp_path, {"master": [{"id": 1, "title": "x"}]})
    assert detect_formats(tmp_path) == ["taskmaster", "kiro"]
    block = yaml.safe_load(planning_block(tmp_path))
    assert block == {
        "planning": {
            "format": "taskmaster",
            "include": [],
            "infer_order": True,
            "defaults": {"loc_cap": 400, "test_command": "python3 -m pytest -q", "max_attempts": 3},
        }
    }
    plan = load(tmp_path)  # auto: the first found, and a warning names the other
    assert plan.format == "taskmaster"
    assert messages(plan.warnings) == [
        f"{tmp_path}: planning.format: holds plans in taskmaster, kiro: read as taskmaster, the "
        "others ignored (fix: set planning.format in hatchdoit.yaml to one of taskmaster, kiro)"
    ]
    assert load(tmp_path, format="kiro").format == "kiro"
    (tmp_path / "_specs").mkdir()
    assert detect_format(tmp_path) == "hatchdoit"
    assert yaml.safe_load(planning_block(tmp_path)) == {"planning": {"format": "hatchdoit"}}


def test_the_read_only_view_holds_what_the_format_reads(tmp_path: Path) -> None:
    from hatchdoit.core.bundled import SCRIPTS
    from hatchdoit.core.errors import ConfigError
    from hatchdoit.planning.formats.registry import view_paths
    from hatchdoit.planning.mount import ensure_view

    script = SCRIPTS / "mount" / "ensure_readonly_mount.sh"
    repo = photo_albums(tmp_path / "sk")
    assert view_paths("auto", repo) == ("specs",)
    assert view_paths("hatchdoit", repo) == ()  # the script's own default: _specs/
    view = ensure_view(script, tmp_path / "link", repo, expect=view_paths("auto", repo))
    assert view["mode"] == "symlink" and view["resolved"] == str(repo.resolve())
    with pytest.raises(ConfigError, match=r"has none of: \.taskmaster/tasks/tasks\.json"):
        ensure_view(script, tmp_path / "link", expect=view_paths("taskmaster", repo))
    with pytest.raises(ConfigError, match="has no _specs/"):
        ensure_view(script, tmp_path / "link")
