"""Input digests and receipts: what makes a step current, and what makes it stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from projects import HatchProject, make_project

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.bundled import AGENTS as BUNDLED_AGENTS
from hatchdoit.project import Project, load_project
from hatchdoit.records.models import DoneRecord
from hatchdoit.records.receipts import current_receipt, write_receipt


@pytest.fixture()
def hp(tmp_path: Path) -> HatchProject:
    project = make_project(tmp_path)
    project.add_taskspec("001-TS-BASE")
    project.add_taskspec("002-TS-USER", depends_on=["001-TS-BASE"])
    project.add_taskspec("003-TS-ALONE")
    return project


def fresh(hp: HatchProject) -> Project:
    load_project.cache_clear()
    return load_project(hp.root)


def test_digest_is_stable_when_nothing_changes(hp: HatchProject) -> None:
    first = {tid: fresh(hp).digest(tid) for tid in ("001-TS-BASE", "002-TS-USER")}
    second = {tid: fresh(hp).digest(tid) for tid in ("001-TS-BASE", "002-TS-USER")}
    assert first == second
    assert len(set(first.values())) == 2


def test_editing_a_taskspec_changes_its_digest_and_its_dependents_only(hp: HatchProject) -> None:
    before = {tid: fresh(hp).digest(tid) for tid in ("001-TS-BASE", "002-TS-USER", "003-TS-ALONE")}
    spec = hp.planning / "_specs" / "taskspecs" / "001-TS-BASE.md"
    spec.write_text(spec.read_text() + "\nOne more sentence.\n")
    after = {tid: fresh(hp).digest(tid) for tid in before}
    assert after["001-TS-BASE"] != before["001-TS-BASE"]
    # a dependent's input is its dependency's approved commit: none before, none now
    assert after["002-TS-USER"] == before["002-TS-USER"]
    assert after["003-TS-ALONE"] == before["003-TS-ALONE"]


def test_a_dependencys_approved_commit_is_an_input_of_its_dependents(hp: HatchProject) -> None:
    project = fresh(hp)
    before = project.digest("002-TS-USER")
    done = DoneRecord(
        taskspec_id="001-TS-BASE",
        digest=project.digest("001-TS-BASE"),
        attempt=1,
        branch="taskspec/001-TS-BASE",
        commit="a" * 40,
        verdict="v",
    )
    write_json_atomic(project.layout.done("001-TS-BASE"), done.model_dump(mode="json"))
    approved = fresh(hp).digest("002-TS-USER")
    assert approved != before
    again = done.model_copy(update={"commit": "b" * 40})
    write_json_atomic(project.layout.done("001-TS-BASE"), again.model_dump(mode="json"))
    assert fresh(hp).digest("002-TS-USER") not in (before, approved)
    stale = again.model_copy(update={"digest": "older inputs"})
    write_json_atomic(project.layout.done("001-TS-BASE"), stale.model_dump(mode="json"))
    assert fresh(hp).digest("002-TS-USER") == before  # not current: not approved work


def test_prompt_template_and_config_changes_reach_the_digest(hp: HatchProject) -> None:
    before = fresh(hp).digest("003-TS-ALONE")
    hp.configure(limits={"max_attempts": 5, "test_timeout": 7})
    assert fresh(hp).digest("003-TS-ALONE") == before  # limits only bound the work
    hp.configure(target={"integration_branch": "develop"})
    bumped = fresh(hp).digest("003-TS-ALONE")
    assert bumped != before
    agents = hp.root / "agents"
    (agents / "prompts").mkdir(parents=True)
    for src in BUNDLED_AGENTS.glob("*.yaml"):
        (agents / src.name).write_text(src.read_text())
    for src in (BUNDLED_AGENTS / "prompts").glob("*.md"):
        (agents / "prompts" / src.name).write_text(src.read_text())
    (agents / "scripted").symlink_to(BUNDLED_AGENTS / "scripted")
    assert fresh(hp).digest("003-TS-ALONE") == bumped  # same bytes, same digest
    qa = agents / "prompts" / "qa.md"
    qa.write_text(qa.read_text() + "\nBe strict.\n")
    assert fresh(hp).digest("003-TS-ALONE") != bumped


def test_receipt_is_current_only_for_its_digest_and_unchanged_artifact(hp: HatchProject) -> None:
    project = fresh(hp)
    layout, tid = project.layout, "003-TS-ALONE"
    artifact = layout.checks(tid, 1)
    artifact.parent.mkdir(parents=True)
    artifact.write_text('{"passed": true}\n')
    digest = project.digest(tid)
    write_receipt(layout, tid, "checks", 1, digest=digest, outcome="ok", artifact=artifact)
    assert current_receipt(layout, tid, "checks", 1, digest) is not None
    assert current_receipt(layout, tid, "checks", 1, "other-digest") is None
    artifact.write_text('{"passed": false}\n')
    assert current_receipt(layout, tid, "checks", 1, digest) is None
    artifact.unlink()
    assert current_receipt(layout, tid, "checks", 1, digest) is None


def test_same_size_edit_within_the_receipts_clock_tick_is_still_seen(hp: HatchProject) -> None:
    """The stat shortcut (same inode, mtime, size: no need to hash) must not hide an in-place
    edit that kept size and mtime: when the artifact is not older than its receipt ("racy",
    as git calls it), the hash decides."""
    project = fresh(hp)
    layout, tid = project.layout, "003-TS-ALONE"
    artifact = layout.checks(tid, 1)
    artifact.parent.mkdir(parents=True)
    artifact.write_text('{"passed": true}\n')
    digest = project.digest(tid)
    write_receipt(layout, tid, "checks", 1, digest=digest, outcome="ok", artifact=artifact)
    receipt_file = layout.receipt(tid, "checks", 1)
    tick = receipt_file.stat().st_mtime_ns
    os.utime(artifact, ns=(tick, tick))  # artifact and receipt in the same clock tick
    write_receipt(layout, tid, "checks", 1, digest=digest, outcome="ok", artifact=artifact)
    os.utime(layout.receipt(tid, "checks", 1), ns=(tick, tick))
    assert current_receipt(layout, tid, "checks", 1, digest) is not None
    with artifact.open("r+") as f:  # same size, same inode
        f.write('{"passed": null}')
    os.utime(artifact, ns=(tick, tick))
    assert current_receipt(layout, tid, "checks", 1, digest) is None


def test_token_pinned_receipt_survives_rewrites_of_the_same_run(hp: HatchProject) -> None:
    project = fresh(hp)
    layout, tid = project.layout, "003-TS-ALONE"
    stop = layout.stop_file(tid, "factory", 1)
    stop.parent.mkdir(parents=True)
    stop.write_text('{"run_token": "tok-1", "seq": 1}')
    digest = project.digest(tid)
    write_receipt(
        layout, tid, "factory", 1, digest=digest, outcome="ok", artifact=stop, token="tok-1"
    )
    stop.write_text('{"run_token": "tok-1", "seq": 2}')  # a later stop of the same run
    assert current_receipt(layout, tid, "factory", 1, digest) is not None
    stop.write_text('{"run_token": "tok-2", "seq": 1}')  # another run's stop
    assert current_receipt(layout, tid, "factory", 1, digest) is None
