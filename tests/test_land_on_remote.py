"""`integration.land_on: remote` (here by HATCHDOIT_LAND_ON=remote): the integration branch that
moves is the remote's, by a push with a lease (delivery/landing_target.py). Real git with a bare
repo as `origin`, real doit, tmux and the scripted agent; two project clones (two `_logs`, two
tmux servers, two clones of the target) are two machines.

Two machines land different TaskSpecs at once: one push is refused and redone on the new tip,
origin's main has both. kill -9 after the push and before the records: the rerun records the
landing without pushing or testing again. A protected branch: one line, a failed integration."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import git, read_json, read_log
from projects import IDENTITY, HatchProject, doit_executable, make_project, write_seed

from hatchdoit.core.errors import ConfigError
from hatchdoit.delivery.landing_target import land_on
from hatchdoit.project import load_project

pytestmark = pytest.mark.integration


def on_origin(origin: Path, tid: str) -> list[str]:
    return git(origin, "log", "--first-parent", "--format=%H", "main",
               f"--grep=Hatchdoit-TaskSpec: {tid}").split()  # fmt: skip


def make_origin(tmp: Path) -> Path:
    """A bare repo holding the seed's tree on main."""
    seed = write_seed(tmp / "seed")
    work = tmp / "origin-work"
    shutil.copytree(seed, work)
    env = {**IDENTITY}
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial", env=env)
    origin = tmp / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(origin)], check=True)
    return origin


def machine(tmp: Path, name: str, origin: Path) -> HatchProject:
    """A project whose target is a clone of `origin`, landing on origin's main."""
    (tmp / name).mkdir()
    project = make_project(tmp / name, seed=tmp / "seed")
    subprocess.run(
        ["git", "clone", "-q", str(origin), str(project.target)], check=True, env=project.env
    )
    project.env["HATCHDOIT_LAND_ON"] = "remote"
    return project


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[tuple[Path, list[HatchProject]]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    origin = make_origin(tmp_path)
    made = [machine(tmp_path, name, origin) for name in ("m1", "m2")]
    try:
        yield origin, made
    finally:
        for project in made:
            project.tmux("kill-server")
            shutil.rmtree(project.env["TMUX_TMPDIR"], ignore_errors=True)


def barrier(shared: Path, me: str, others: list[str]) -> list[str]:
    """An integration test argv: says `me` arrived, waits (60 s at most) for `others`, and
    counts its runs in `runs-<me>`."""
    script = (
        "import pathlib, time\n"
        f"shared = pathlib.Path({str(shared)!r})\n"
        f"(shared / 'at-{me}').touch()\n"
        f"with (shared / 'runs-{me}').open('a') as out:\n"
        "    out.write('run\\n')\n"
        "deadline = time.monotonic() + 60\n"
        f"while not all((shared / f'at-{{o}}').exists() for o in {others!r}):\n"
        "    if time.monotonic() > deadline:\n"
        "        break\n"
        "    time.sleep(0.05)\n"
    )
    return [sys.executable, "-c", script]


def runs(shared: Path, me: str) -> int:
    path = shared / f"runs-{me}"
    return len(path.read_text().splitlines()) if path.exists() else 0


def run(project: HatchProject, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [doit_executable(), *args], cwd=project.root, env={**project.env, **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_two_machines_land_at_once_one_push_is_refused_and_redone(
    tmp_path: Path, machines: tuple[Path, list[HatchProject]]
) -> None:
    origin, (one, two) = machines
    shared = tmp_path / "shared"
    shared.mkdir()
    one.configure(integrate="merge", integration={"test_command": barrier(shared, "A", ["B"])})
    two.configure(integrate="merge", integration={"test_command": barrier(shared, "B", ["A"])})
    one.add_taskspec("A")
    two.add_taskspec("B")
    builds = [run(one), run(two)]
    outputs = [p.communicate(timeout=300)[0] for p in builds]
    for build, out in zip(builds, outputs, strict=True):
        assert build.returncode == 0, out
    assert len(on_origin(origin, "A")) == 1 and len(on_origin(origin, "B")) == 1
    for project, tid in ((one, "A"), (two, "B")):
        record = read_json(project.layout.integration(tid))
        assert record["outcome"] == "integrated"
        assert record["landed_commit"] == on_origin(origin, tid)[0]
        # the local branch followed origin's by fast-forward
        local = git(project.target, "rev-parse", "main").strip()
        assert git(project.target, "merge-base", "--is-ancestor", record["landed_commit"],
                   local) == ""  # fmt: skip
    moved = [
        project
        for project in (one, two)
        if any(
            "moved during the integration" in e["msg"] for e in read_log(project, "orchestrator")
        )
    ]
    assert len(moved) == 1, "exactly one push was refused and redone on the new tip"
    redone = "A" if moved[0] is one else "B"
    assert runs(shared, redone) == 2 and runs(shared, "B" if redone == "A" else "A") == 1
    tip = git(origin, "rev-parse", "main").strip()
    landed_last = read_json(moved[0].layout.integration(redone))["landed_commit"]
    assert tip == landed_last, "the redone landing sits on top of the other"


@pytest.mark.parametrize("batch_max", [1, 8])
def test_kill_after_the_push_then_rerun_records_it_without_pushing_again(
    tmp_path: Path, machines: tuple[Path, list[HatchProject]], batch_max: int
) -> None:
    origin, (one, _) = machines
    shared = tmp_path / "shared"
    shared.mkdir()
    one.configure(
        integrate="merge",
        integration={"test_command": barrier(shared, "A", []), "batch_max": batch_max},
    )
    one.add_taskspec("A")
    killed = run(one, HATCHDOIT_FAULT="integrate.after_update_ref@A")
    out = killed.communicate(timeout=300)[0]
    assert killed.returncode == -9, out
    assert len(on_origin(origin, "A")) == 1, "pushed before the kill"
    assert not one.layout.integration("A").exists()
    pushed = on_origin(origin, "A")[0]
    again = run(one)
    out = again.communicate(timeout=300)[0]
    assert again.returncode == 0, out
    assert on_origin(origin, "A") == [pushed], "not pushed again"
    assert git(origin, "rev-parse", "main").strip() == pushed
    assert runs(shared, "A") == 1, "not tested again: the remote holds the commit it built"
    record = read_json(one.layout.integration("A"))
    assert record["outcome"] == "integrated" and record["landed_commit"] == pushed
    assert git(one.target, "rev-parse", "main").strip() == pushed


def test_a_protected_branch_fails_the_integration_with_one_line(
    tmp_path: Path, machines: tuple[Path, list[HatchProject]]
) -> None:
    origin, (one, _) = machines
    count = tmp_path / "pushes"
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho push >> {count}\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    one.configure(integrate="merge")
    one.add_taskspec("A")
    done = run(one)
    out = done.communicate(timeout=300)[0]
    assert done.returncode != 0, out
    said = [x for x in out.splitlines() if x.startswith("hatchdoit:") and "cannot push there" in x]
    assert len(said) == 1 and "integrate: pr" in said[0], out
    assert count.read_text().splitlines() == ["push"], "refused once, not retried"
    assert on_origin(origin, "A") == []
    assert not one.layout.integration("A").exists()


def test_a_push_that_loses_the_servers_ref_lock_is_redone_not_taken_for_a_protected_branch(
    tmp_path: Path, machines: tuple[Path, list[HatchProject]]
) -> None:
    """Another push lands while ours is in the server's hands: the ref transaction fails to
    commit (`remote: error: cannot lock ref ... but expected ...`; under --atomic our ref's own
    line says only "atomic transaction failed"). Someone landed first: redo on the new tip."""
    origin, (one, _) = machines
    other = tmp_path / "other-lands"
    work = tmp_path / "someone"
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
    (work / "theirs.txt").write_text("landed by someone else\n")
    git(work, "add", "theirs.txt")
    git(work, "commit", "-q", "-m", "someone else's work", env={**IDENTITY})
    theirs = git(work, "rev-parse", "HEAD").strip()
    git(work, "push", "-q", "origin", f"{theirs}:refs/hatchdoit-test/theirs")
    hook = origin / "hooks" / "pre-receive"  # once: main moves under the push being received
    hook.write_text(
        f"#!/bin/sh\n[ -e {other} ] && exit 0\ntouch {other}\n"
        # (a hook may not move refs while the pushed objects are quarantined: theirs is not)
        f"env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main {theirs} || exit 3\n"
    )
    hook.chmod(0o755)
    one.configure(integrate="merge")
    one.add_taskspec("A")
    done = run(one)
    out = done.communicate(timeout=300)[0]
    assert done.returncode == 0, out
    assert "cannot push there" not in out
    assert other.exists(), "the hook moved main under the first push"
    landed = on_origin(origin, "A")
    assert len(landed) == 1, out
    assert git(origin, "rev-parse", "main").strip() == landed[0]
    assert git(origin, "merge-base", "--is-ancestor", theirs, landed[0]) == "", "theirs kept"


def test_work_someone_else_landed_on_the_remote_is_tested_before_it_is_recorded(
    tmp_path: Path, machines: tuple[Path, list[HatchProject]]
) -> None:
    """This machine's landing of A was interrupted before its push; meanwhile origin's main got
    A's approved commit, merged with hatchdoit's trailers by another runner. This machine did
    not build that tip, so its post-merge tests run on it before A is recorded as landed (and
    nothing more is pushed)."""
    origin, (one, _) = machines
    shared = tmp_path / "shared"
    shared.mkdir()
    one.configure(integrate="merge", integration={"test_command": barrier(shared, "A", [])})
    one.add_taskspec("A")
    killed = run(one, HATCHDOIT_FAULT="integrate.after_merge@A")  # an intent, nothing pushed
    out = killed.communicate(timeout=300)[0]
    assert killed.returncode == -9, out
    approved = read_json(one.layout.done("A"))["commit"]
    elsewhere = tmp_path / "elsewhere"
    subprocess.run(["git", "clone", "-q", str(origin), str(elsewhere)], check=True)
    git(elsewhere, "fetch", "-q", str(one.target), approved)
    message = f"A landed elsewhere\n\nHatchdoit-TaskSpec: A\nHatchdoit-Approved: {approved}\n"
    git(elsewhere, "merge", "-q", "--no-ff", "-m", message, approved, env=IDENTITY)
    git(elsewhere, "push", "-q", "origin", "main")
    theirs = git(origin, "rev-parse", "main").strip()
    done = run(one)
    out = done.communicate(timeout=300)[0]
    assert done.returncode == 0, out
    assert runs(shared, "A") == 1, "the tip was tested before A was recorded"
    assert git(origin, "rev-parse", "main").strip() == theirs, "nothing more to push"
    assert read_json(one.layout.integration("A"))["outcome"] == "integrated"


def test_land_on_is_set_by_the_file_or_the_environment_and_enters_no_digest(
    project: HatchProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.configure(integrate="merge")
    project.add_taskspec("A")
    monkeypatch.delenv("HATCHDOIT_LAND_ON", raising=False)
    local = load_project(project.root)
    assert land_on(local.config.integration) == "local"
    digests = [local.step_digest("A", step, 0) for step in ("worktree", "taskspec", "integrate")]
    monkeypatch.setenv("HATCHDOIT_LAND_ON", "remote")
    remote = load_project(project.root)
    assert land_on(remote.config.integration) == "remote"
    assert [remote.step_digest("A", s, 0) for s in ("worktree", "taskspec", "integrate")] == digests
    project.configure(integration={"land_on": "remote"})
    monkeypatch.setenv("HATCHDOIT_LAND_ON", "local")
    assert land_on(load_project(project.root).config.integration) == "local", "the variable wins"
    monkeypatch.setenv("HATCHDOIT_LAND_ON", "sideways")
    with pytest.raises(ConfigError, match="HATCHDOIT_LAND_ON"):
        land_on(load_project(project.root).config.integration)
