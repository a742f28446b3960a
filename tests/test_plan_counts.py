"""`hatchdoit validate` and `hatchdoit plan` count a plan's TaskSpecs with the same words: how many
there are, how many are to build, how many the plan marks done or skipped (cli/plan.py's
`taskspec_counts`). A foreign plan with checked (`[x]`) and optional tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from daily_use import hatchdoit
from plan_formats import TEST_COMMAND
from projects import HatchProject, make_project
from test_formats_kiro import user_auth
from test_formats_speckit import photo_albums

pytestmark = pytest.mark.integration


@pytest.fixture
def plain(tmp_path: Path) -> HatchProject:
    return make_project(tmp_path)


@pytest.mark.parametrize(
    ("make", "counts"),
    [
        (photo_albums, "10 TaskSpec(s): 8 to build, 2 done in the plan"),
        (user_auth, "6 TaskSpec(s): 4 to build, 1 done in the plan, 1 skipped in the plan"),
    ],
)
def test_validate_and_plan_say_the_same_counts(
    plain: HatchProject, tmp_path: Path, make: object, counts: str
) -> None:
    planning = make(tmp_path / "plan")  # type: ignore[operator]
    plain.configure(specs=str(planning), planning={"defaults": {"test_command": TEST_COMMAND}})
    validate = hatchdoit(plain, "validate")
    assert validate.returncode == 0, validate.stderr
    assert f"{counts}, 0 problem(s)" in validate.stdout, validate.stdout
    assert "buildable" not in validate.stdout
    shown = hatchdoit(plain, "plan")
    assert shown.returncode == 0, shown.stderr
    assert counts in shown.stdout.splitlines()[0], shown.stdout
    report = json.loads(hatchdoit(plain, "plan", "--json").stdout)
    to_build = sum(row["status"] == "to build" for row in report["taskspecs"])
    assert f": {to_build} to build" in counts
