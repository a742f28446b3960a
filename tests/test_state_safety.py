"""Safety of the project's own state: one build at a time, corrupt current_state.json, an
unwritable `_logs/` directory, a full disk, worktree removal through `doit clean`, and the
read-only planning repo.

Some tests mount file systems (a read-only bind mount, a tiny tmpfs); they need root and are
skipped where mounting is not permitted.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    CHECKOUT,
    HatchProject,
    assert_logs_parse,
    background_doit,
    doit_output,
    events,
    git,
    make_project,
    module_body,
    read_audit,
    read_log,
    retry_until,
    run_doit,
    tree_hashes,
)

from hatchdoit.logs import JsonLinesHandler, get_logger, log
from hatchdoit.records import DoneRecord, LaunchRecord
from hatchdoit.schemas import load_valid, try_load

pytestmark = pytest.mark.integration

TID = "SS001-STATE"


def hatchdoit_cli(project: HatchProject, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatchdoit.cli", "--root", str(project.root), *args],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )




def agent_working(project: HatchProject, proc: subprocess.Popen[str], tid: str = TID) -> None:
    marker = project.layout.marker(tid, "factory", 1, "submitted")

    def probe() -> bool:
        assert proc.poll() is None, "doit ended before the agent was working"
        return marker.exists()

    retry_until(probe, timeout=60, what="factory agent working")


def launches_per_attempt(project: HatchProject) -> Counter[tuple[str, str, int]]:
    return Counter(
        (e["taskspec_id"], e["role"], int(e["attempt"])) for e in events(project, "launch")
    )


def problem_lines(output: str, needle: str = "") -> list[str]:
    """hatchdoit's own lines that mention `needle` (the build summary line is not a problem)."""
    return [
        line
        for line in output.splitlines()
        if line.startswith("hatchdoit:") and needle in line and " TaskSpec(s): " not in line
    ]


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
# One build at a time


def test_second_build_refuses_at_once_and_list_still_works(project: HatchProject) -> None:
    project.configure(limits={"factory": {"idle_timeout": 60, "wall_timeout": 120}})
    project.add_taskspec(TID, scripted={"factory": "hang"}, max_attempts=1)
    with background_doit(project) as first:
        agent_working(project, first)
        started = time.monotonic()
        second = run_doit(project, timeout=30)
        refused_in = time.monotonic() - started
        listing = run_doit(project, "list", "--all", "--status", timeout=30)
        assert first.poll() is None
        os.kill(first.pid, signal.SIGKILL)

    output = second.stdout + second.stderr
    assert second.returncode != 0, output
    lines = problem_lines(output)
    assert len(lines) == 1, output
    assert f"another build is running in this project (pid {first.pid})" in lines[0]
    assert "HATCHDOIT_LOCK_WAIT=1" in lines[0]
    assert "Traceback" not in output
    assert refused_in < 5, refused_in
    assert listing.returncode == 0 and f"taskspec:{TID}" in listing.stdout
    assert launches_per_attempt(project) == {(TID, "factory", 1): 1}
    print(f"\n[lock] second doit refused in {refused_in:.2f}s")


def test_lock_wait_waits_for_the_running_build(project: HatchProject) -> None:
    """With HATCHDOIT_LOCK_WAIT=1 the second build blocks until the first ends, then finds
    everything done: no agent is launched twice."""
    project.configure(limits={"factory": {"idle_timeout": 2, "wall_timeout": 60}})
    project.add_taskspec(TID, scripted={"factory": ["hang", "succeed"]}, max_attempts=2)
    waiting_env = {**project.env, "HATCHDOIT_LOCK_WAIT": "1"}
    with background_doit(project) as first:
        agent_working(project, first)
        with background_doit(project, env=waiting_env) as second:
            time.sleep(1.0)  # the observation window: nothing may happen in it
            assert second.poll() is None, "the waiting build did not wait"
            assert first.wait(timeout=60) == 0
            first_ended = time.monotonic()
            second.wait(timeout=60)
            second_ended = time.monotonic()
    assert second.returncode == 0, doit_output(project, second)
    assert second_ended >= first_ended
    assert load_valid(project.layout.done(TID), DoneRecord).attempt == 2
    assert launches_per_attempt(project) == {
        (TID, "factory", 1): 1,
        (TID, "factory", 2): 1,
        (TID, "qa", 2): 1,
    }


# --------------------------------------------------------------------------------------------
# current_state.json


def build_two(project: HatchProject) -> tuple[Path, Path]:
    a = project.add_taskspec("SA", body=module_body("sa", "sa", "a"))
    c = project.add_taskspec("SC", body=module_body("sc", "sc", "c"))
    done = run_doit(project)
    assert done.returncode == 0, done.stdout + done.stderr
    return a, c


def state_file(project: HatchProject) -> Path:
    return project.layout.current_state


def statuses(project: HatchProject) -> dict[str, str]:
    state = json.loads(state_file(project).read_text(encoding="utf-8"))
    return {tid: entry["status"] for tid, entry in state["taskspecs"].items()}


def state_warnings(project: HatchProject) -> list[dict[str, object]]:
    return [
        line
        for line in read_log(project, "orchestrator")
        if line["level"] == "WARN" and line.get("operation") == "read_state"
    ]


GARBAGE = {
    "empty": b"",
    "binary": b"\x00\xff\xfe binary",
    "wrong-type": b'{"taskspecs": []}',
    "not-a-mapping": b"[1, 2, 3]",
    "truncated": b'{"taskspecs": {"SA": 1',
}


def test_corrupt_state_is_restored_from_its_backup_by_the_next_step(project: HatchProject) -> None:
    """Each kind of garbage in current_state.json, each followed by a build that runs steps (of
    a newly added TaskSpec): the file is whole again, with a WARN line each time."""
    build_two(project)
    for n, (kind, garbage) in enumerate(GARBAGE.items()):
        warned = len(state_warnings(project))
        state_file(project).write_bytes(garbage)
        tid = f"SD{n}"
        project.add_taskspec(tid, body=module_body(f"sd{n}", f"sd{n}", str(n)))
        done = run_doit(project, f"taskspec:{tid}")
        assert done.returncode == 0, f"{kind}: {done.stdout}{done.stderr}"
        assert "Traceback" not in done.stdout + done.stderr
        assert {"SA", "SC", tid} <= set(statuses(project)), kind
        assert statuses(project)[tid] == "done", kind
        messages = [str(w["msg"]) for w in state_warnings(project)[warned:]]
        assert any("corrupt" in m for m in messages), (kind, messages)
        assert any("restored from its backup" in m for m in messages), (kind, messages)


def test_corrupt_state_is_restored_by_a_build_with_nothing_to_do(project: HatchProject) -> None:
    build_two(project)
    state_file(project).write_text("{ truncated", encoding="utf-8")
    assert run_doit(project).returncode == 0
    assert statuses(project) == {"SA": "done", "SC": "done"}


def last_finished(project: HatchProject) -> str:
    done = [e["taskspec_id"] for e in read_audit(project) if e["event"] == "done"]
    return done[-1]


def test_state_restored_during_a_build_has_no_stale_entries(project: HatchProject) -> None:
    """current_state.json is corrupted between builds; the next build runs steps of one
    TaskSpec only. Every entry must still tell the truth afterwards."""
    paths = dict(zip(("SA", "SC"), build_two(project), strict=True))
    other = "SA" if last_finished(project) == "SC" else "SC"
    state_file(project).write_text("{ truncated", encoding="utf-8")
    path = paths[other]
    path.write_text(path.read_text(encoding="utf-8") + "\nEdited.\n", encoding="utf-8")

    assert run_doit(project).returncode == 0
    assert statuses(project) == {"SA": "done", "SC": "done"}


def test_state_rebuilt_during_a_build_lists_every_taskspec(project: HatchProject) -> None:
    paths = dict(zip(("SA", "SC"), build_two(project), strict=True))
    state_file(project).write_text("{ truncated", encoding="utf-8")
    state_file(project).with_suffix(".json.bak").write_text("garbage", encoding="utf-8")
    path = paths["SA"]
    path.write_text(path.read_text(encoding="utf-8") + "\nEdited.\n", encoding="utf-8")

    assert run_doit(project).returncode == 0
    assert statuses(project) == {"SA": "done", "SC": "done"}


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
# doit clean: worktree removal with validation


def registered_worktrees(project: HatchProject) -> list[str]:
    listing = git(project.root / "_target", "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("worktree ")]


def test_clean_refuses_a_dirty_worktree_then_removes_a_clean_one(project: HatchProject) -> None:
    project.add_taskspec(TID)
    assert run_doit(project).returncode == 0
    worktree = project.layout.worktree(TID)
    (worktree / "uncommitted.txt").write_text("work in progress\n", encoding="utf-8")

    refused = run_doit(project, "clean", f"worktree:{TID}")
    assert "Traceback" not in refused.stdout + refused.stderr
    assert (worktree / "uncommitted.txt").is_file()
    assert project.layout.worktree_record(TID).is_file()
    assert str(worktree) in registered_worktrees(project)

    (worktree / "uncommitted.txt").unlink()
    removed = run_doit(project, "clean", f"worktree:{TID}")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not worktree.exists()
    assert not project.layout.worktree_record(TID).exists()
    assert str(worktree) not in registered_worktrees(project)
    assert git(project.root / "_target", "branch", "--list", f"taskspec/{TID}").strip()


def dirty_clean(project: HatchProject) -> subprocess.CompletedProcess[str]:
    project.add_taskspec(TID)
    assert run_doit(project, f"worktree:{TID}").returncode == 0
    (project.layout.worktree(TID) / "uncommitted.txt").write_text("x\n", encoding="utf-8")
    return run_doit(project, "clean", f"worktree:{TID}")


def test_clean_refusal_tells_why(project: HatchProject) -> None:
    refused = dirty_clean(project)
    assert "uncommitted changes; not removing it" in refused.stdout + refused.stderr


def test_clean_refusal_exits_non_zero(project: HatchProject) -> None:
    refused = dirty_clean(project)
    assert refused.returncode != 0, refused.stdout + refused.stderr


def test_clean_refuses_what_is_not_our_worktree(project: HatchProject, tmp_path: Path) -> None:
    project.add_taskspec(TID)
    assert run_doit(project, f"worktree:{TID}").returncode == 0
    worktree = project.layout.worktree(TID)
    git(project.root / "_target", "worktree", "remove", "--force", str(worktree))
    worktree.mkdir()
    (worktree / "precious.txt").write_text("not hatchdoit's\n", encoding="utf-8")

    refused = run_doit(project, "clean", f"worktree:{TID}")
    assert "Traceback" not in refused.stdout + refused.stderr
    assert (worktree / "precious.txt").is_file()

    shutil.rmtree(worktree)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("elsewhere\n", encoding="utf-8")
    worktree.symlink_to(outside)
    run_doit(project, "clean", f"worktree:{TID}")
    assert (outside / "precious.txt").is_file() and worktree.is_symlink()


def test_clean_prunes_a_worktree_deleted_by_hand(project: HatchProject) -> None:
    project.add_taskspec(TID)
    assert run_doit(project, f"worktree:{TID}").returncode == 0
    worktree = project.layout.worktree(TID)
    shutil.rmtree(worktree)
    assert str(worktree) in registered_worktrees(project)  # git still has its record

    done = run_doit(project, "clean", f"worktree:{TID}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(worktree) not in registered_worktrees(project)


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
    script = CHECKOUT / "scripts" / "mount" / "ensure_readonly_mount.sh"
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
        validate = hatchdoit_cli(project, "validate")
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
