"""`confinement: auto | required | off` where the sandbox cannot start (HATCHDOIT_SRT points at a
stand-in that fails as bubblewrap does without user namespaces): auto warns once and builds
under `doit`, refuses under `hatchdoit ci`; required refuses with one line; off says nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from build_records import TID, build_ok, done_record
from confinement_support import failing_srt
from conftest import run_doit
from daily_use import hatchdoit
from projects import HatchProject

from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.availability import Availability
from hatchdoit.confinement.mode import decide
from hatchdoit.confinement.srt import SRT_ENV
from hatchdoit.core.errors import EXIT_CONFIG, ConfigError

pytestmark = pytest.mark.integration
UNAVAILABLE = Availability(False, "no user namespaces", "sudo sysctl -w ...")


def _broken(project: HatchProject, mode: str) -> None:
    project.env[SRT_ENV] = str(failing_srt(project.root.parent))
    project.configure(confinement={"mode": mode})
    project.add_taskspec(TID)


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if "UNCONFINED" in line]


def test_auto_warns_once_and_builds_unconfined_under_doit(project: HatchProject) -> None:
    _broken(project, "auto")
    project.add_taskspec("T002-OTHER")
    done = run_doit(project, "-n", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    warned = _warnings(done.stdout + done.stderr)
    assert len(warned) == 1, done.stderr
    assert "bwrap: setting up uid map" in warned[0] and "fix:" in warned[0]
    assert done_record(project, TID).attempt == 1
    record = json.loads(Path(project.layout.confinement_record).read_text(encoding="utf-8"))
    assert record["label"] == "unconfined"


def test_auto_refuses_under_hatchdoit_ci(project: HatchProject) -> None:
    _broken(project, "auto")
    done = hatchdoit(project, "ci", timeout=60)
    assert done.returncode == EXIT_CONFIG, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if "cannot confine" in line]
    assert len(lines) == 1 and "hatchdoit ci" in lines[0], done.stderr
    assert not project.layout.worktree(TID).exists()


def test_required_refuses_with_one_line(project: HatchProject) -> None:
    _broken(project, "required")
    done = run_doit(project)
    assert done.returncode == EXIT_CONFIG, done.stdout + done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "confinement: required" in done.stderr and "fix:" in done.stderr
    assert not project.layout.worktree(TID).exists()


def test_off_builds_without_a_word(project: HatchProject) -> None:
    _broken(project, "off")
    output = build_ok(project)
    assert not _warnings(output)


def test_the_decision_table() -> None:
    auto, required = ConfinementConfig(mode="auto"), ConfinementConfig(mode="required")
    assert decide(auto, ci=False, found=UNAVAILABLE).label == "unconfined"
    with pytest.raises(ConfigError, match="hatchdoit ci"):
        decide(auto, ci=True, found=UNAVAILABLE)
    with pytest.raises(ConfigError, match="required"):
        decide(required, ci=False, found=UNAVAILABLE)
    ok = Availability(True, "srt")
    assert decide(required, ci=True, found=ok).label == "confined"
    assert decide(ConfinementConfig(mode="off"), ci=True, found=UNAVAILABLE).label == "off"
