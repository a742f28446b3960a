"""Writes the file system refuses: a read-only `_logs/` subdirectory and a full disk fail the
step in one clear line, leave no partial artifact and resume once space is back; log lines that
cannot be written are dropped, counted and reported once; and a build through a read-only bind
view of the planning repo leaves it byte-identical.

These tests mount file systems (a read-only bind mount, a tiny tmpfs); they need root and are
skipped where mounting is not permitted.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import assert_logs_parse, events, run_doit, tree_hashes
from daily_use import hatchdoit
from projects import HatchProject, make_project
from state_safety import TID, problem_lines

from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS
from hatchdoit.core.logs import JsonLinesHandler, get_logger, log
from hatchdoit.records.models import DoneRecord, LaunchRecord
from hatchdoit.records.schemas import load_valid, try_load

pytestmark = pytest.mark.integration


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@contextmanager
def mounted(argv: list[str], target: Path) -> Iterator[None]:
    """Run a `mount` command for the block, unmount afterwards; skip if mounting is refused."""
    done = run(argv)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()}); needs root")
    try:
        yield
    finally:
        if run(["umount", str(target)]).returncode != 0:
            run(["umount", "-l", str(target)])


# --------------------------------------------------------------------------------------------
# Unwritable _logs/ and a full disk


@pytest.mark.parametrize("subdir", ["qa", "state"])
def test_read_only_logs_subdirectory_is_one_clear_line(project: HatchProject, subdir: str) -> None:
    """A read-only `_logs/<subdir>` (bind mount: root ignores file modes) fails the step that
    writes there with one line naming the path, and leaves no partial artifact."""
    project.add_taskspec(TID, max_attempts=1)
    target = project.logs / subdir
    target.mkdir(parents=True)
    with mounted(["mount", "--bind", str(target), str(target)], target):
        if run(["mount", "-o", "remount,ro,bind", str(target)]).returncode != 0:
            pytest.skip("read-only remount not permitted")
        failed = run_doit(project, timeout=120)
        assert_logs_parse(project)
        assert not list(target.rglob("*.json"))
        assert not list(target.rglob(".*.tmp"))
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "Traceback" not in output and "Logging error" not in output, output
    lines = problem_lines(output, "Read-only file system")
    assert len(lines) == 1, output
    assert str(target) in lines[0], lines[0]
    assert len(problem_lines(output)) == 1, output

    again = run_doit(project, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` to the last byte; return the filler file."""
    filler = directory / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


def try_load_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return True


@dataclass
class FullDisk:
    output: str
    leftovers: list[Path]
    receipts: list[str]
    backup_whole: bool
    resumed: bool


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullDisk]:
    """`_logs/` on a 4 MB tmpfs, filled to the last byte after the worktree step; a build, then
    the filler removed and a rerun."""
    project = make_project(tmp_path_factory.mktemp("fulldisk"))
    project.add_taskspec(TID, max_attempts=1)
    logs = project.logs
    logs.mkdir()
    try:
        with mounted(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(logs)], logs):
            assert run_doit(project, f"worktree:{TID}").returncode == 0
            filler = fill(logs)
            full = run_doit(project, timeout=120)
            assert full.returncode != 0
            assert_logs_parse(project)
            backup = project.layout.current_state.with_suffix(".json.bak")
            backup_whole = not backup.exists() or try_load_json(backup)
            leftovers = list(logs.rglob(".*.tmp"))
            receipts = sorted(p.name for p in (logs / "state" / TID).glob("*.receipt.json"))
            filler.unlink()
            again = run_doit(project, timeout=120)
            assert again.returncode == 0, again.stdout + again.stderr
            done = try_load(project.layout.done(TID), DoneRecord)
            yield FullDisk(
                output=full.stdout + full.stderr,
                leftovers=leftovers,
                receipts=receipts,
                backup_whole=backup_whole,
                resumed=done is not None and done.attempt == 1,
            )
    finally:
        project.tmux("kill-server")


def test_full_disk_leaves_no_partial_artifact_and_resumes(full_disk: FullDisk) -> None:
    step_lines = problem_lines(full_disk.output, "No space left on device")
    assert any(line.startswith(f"hatchdoit: factory {TID} attempt 1: ") for line in step_lines)
    assert not full_disk.leftovers, full_disk.leftovers
    assert full_disk.receipts == ["worktree-000.receipt.json"]
    assert full_disk.resumed
    print("\n[full disk] " + "\n[full disk] ".join(step_lines))


def test_full_disk_leaves_the_state_backup_whole(full_disk: FullDisk) -> None:
    assert full_disk.backup_whole


def test_full_disk_gives_no_traceback(full_disk: FullDisk) -> None:
    assert "Traceback" not in full_disk.output and "Logging error" not in full_disk.output


def test_unwritable_log_lines_are_dropped_counted_and_reported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Log lines that cannot be written (here: the component directory is a file) are dropped
    without logging's traceback; one line tells the user; the log records the gap afterwards."""
    monkeypatch.setattr(JsonLinesHandler, "drop_reported", False)
    logs_dir = tmp_path / "_logs"
    logs_dir.mkdir()
    (logs_dir / "gap").write_text("in the way\n", encoding="utf-8")
    logger = get_logger(logs_dir, "gap")
    for n in range(3):
        log(logger, logging.INFO, f"lost {n}")
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Logging error" not in err, err
    assert len(err.splitlines()) == 1 and err.startswith("hatchdoit: cannot write log "), err

    (logs_dir / "gap").unlink()
    log(logger, logging.INFO, "kept")
    lines = [json.loads(line) for line in (logs_dir / "gap" / "gap.jsonl").read_text().splitlines()]
    assert [(line["level"], line.get("dropped")) for line in lines] == [("WARN", 3), ("INFO", None)]
    assert lines[1]["msg"] == "kept"
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------------------------
# The planning repo is read-only input


def test_build_through_a_read_only_bind_view_leaves_the_planning_repo_identical(
    project: HatchProject,
) -> None:
    project.add_taskspec("RA", scripted={"qa": "reject-once"}, max_attempts=2)
    project.add_taskspec("RB", depends_on=["RA"], scripted={"factory": "skip-summary"})
    project.add_taskspec("RC", scripted={"factory": "crash"}, max_attempts=1)
    before = tree_hashes(project.planning)
    view = project.root / "specs_link"
    script = BUNDLED_SCRIPTS / "mount" / "ensure_readonly_mount.sh"
    made = run([str(script), "--path", str(view), "--source", str(project.planning), "--bind"])
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout.strip().splitlines()[-1])
    if report["mode"] != "bind":
        pytest.skip("read-only bind mounts are not permitted here")
    try:
        assert report["writable"] is False
        with pytest.raises(OSError):
            (view / "_specs" / "intruder.md").write_text("x", encoding="utf-8")
        project.configure(specs="specs_link")
        checked = run([str(script), "--path", str(view)])
        assert checked.returncode == 0 and json.loads(checked.stdout)["mode"] == "bind"
        validate = hatchdoit(project, "validate", timeout=120)
        assert "planning repo view: bind" in validate.stdout and "(read-only)" in validate.stdout
        build = run_doit(project, "--continue", timeout=180)
        assert "Traceback" not in build.stdout + build.stderr
        assert load_valid(project.layout.done("RA"), DoneRecord).attempt == 2
        assert load_valid(project.layout.done("RB"), DoneRecord).attempt == 1
        assert project.layout.escalated("RC").is_file()
    finally:
        run(["umount", str(view)])
        if view.is_dir() and not view.is_symlink():
            view.rmdir()
    assert tree_hashes(project.planning) == before
    launched = {e["taskspec_id"] for e in events(project, "launch")}
    assert launched == {"RA", "RB", "RC"}
    assert try_load(project.layout.launch_record("RA", "factory", 2), LaunchRecord) is not None
