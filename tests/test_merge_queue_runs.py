"""The merge queue within a doit build (steps/merge_batch.py): a targeted build lands only what
it asked for and its dependencies, and an integrate step that comes to the queue while a batch
tests hands its landing over instead of holding its doit worker. Real git, doit, tmux and the
scripted agent."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, read_json, run_doit
from projects import HatchProject, doit_executable

pytestmark = pytest.mark.integration


def landed(project: HatchProject, tid: str) -> list[str]:
    return git(project.target, "log", "--first-parent", "--format=%H", "main",
               f"--grep=Hatchdoit-TaskSpec: {tid}").split()  # fmt: skip


def test_a_targeted_build_lands_only_what_it_asked_for_and_its_dependencies(
    project: HatchProject,
) -> None:
    """A and C are approved and ready to land; `doit taskspec:D` lands D's dependency C and
    not A; `doit integrate:A` lands A and not D (approved, ready, not asked for)."""
    project.configure(integrate="merge")
    for tid in "AC":
        project.add_taskspec(tid)
    project.add_taskspec("D", depends_on=["C"])
    built = run_doit(project, "taskspec:A", "taskspec:C")
    assert built.returncode == 0, built.stdout + built.stderr
    assert landed(project, "A") == [] and landed(project, "C") == []
    dependent = run_doit(project, "taskspec:D")  # runs integrate:C first (D starts from main)
    assert dependent.returncode == 0, dependent.stdout + dependent.stderr
    assert len(landed(project, "C")) == 1
    assert landed(project, "A") == [], "A is not part of `doit taskspec:D`"
    assert not project.layout.integration("A").exists()
    one = run_doit(project, "integrate:A")
    assert one.returncode == 0, one.stdout + one.stderr
    assert len(landed(project, "A")) == 1
    assert landed(project, "D") == [], "D is approved and ready, but not asked for"
    everything = run_doit(project)
    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert [len(landed(project, t)) for t in "ACD"] == [1, 1, 1]
