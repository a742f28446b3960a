"""`hatchdoit ci --shared` and `--shard` when things fail (shared/claims.py's Renewer,
shared/holding.py, cli/ci_shared.py): a renewal that raises anything is said, logged and tried
again; a renewer that dies stops the run; a remote that goes away mid-run still ends with the
JUnit file, report and metrics; a shard that cannot push to the remote builds as without one and
never lands on the remote's main on its own. Real git, a bare remote; the fleet tests use real
doit, tmux and the scripted agent."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from projects import module_body
from shared_machines import Fleet, add_plan, make_fleet
from test_shared_claims import Clock, look, origin, runner
from test_shared_runners import status, wait_for_launch

from hatchdoit.shared.claims import Renewer
from hatchdoit.shared.remote_refs import CLAIMS, Remote, Update

__all__ = ["origin"]  # a fixture


def test_a_renewal_that_raises_anything_is_said_logged_and_tried_again(origin: Path) -> None:
    claims = runner(origin, "a", Clock(), lease=0.6)
    look(claims)
    assert claims.claim("T")
    calls: list[str] = []
    said: list[str] = []
    logged: list[str] = []
    again = threading.Event()

    def push(tid: str) -> bool:
        calls.append(tid)
        if len(calls) == 1:
            raise RuntimeError("boom")
        again.set()
        return True

    renewer = Renewer(claims, said.append, push, log=lambda msg, ctx: logged.append(msg))
    with renewer:
        assert again.wait(10), said
    assert not renewer.dead.is_set()
    assert any("renewing the claim on T failed: boom" in line for line in said), said
    assert logged == ["claim renewal failed"]


def test_a_renewer_that_dies_says_so_and_gives_up_every_claim(origin: Path) -> None:
    claims = runner(origin, "a", Clock(), lease=0.6)
    look(claims)
    assert claims.claim("T")
    lost: list[str] = []
    said: list[str] = []

    def push(tid: str) -> bool:
        raise RuntimeError("boom")

    def overdue(tid: str) -> bool:
        raise KeyboardInterrupt  # not an Exception: the thread would end silently

    claims.overdue = overdue  # type: ignore[method-assign]
    renewer = Renewer(claims, said.append, push, lost.append)
    with renewer:
        assert renewer.dead.wait(10), said
    assert lost == ["T"]
    assert any("the claim renewer stopped" in line for line in said), said


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    made = make_fleet(tmp_path, 1)
    try:
        yield made
    finally:
        made.teardown()


@pytest.mark.integration
def test_a_shard_that_cannot_push_builds_as_without_a_remote_and_lands_locally(
    fleet: Fleet,
) -> None:
    hook = fleet.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'read-only token' >&2\nexit 1\n")
    hook.chmod(0o755)
    fleet.configure(integrate="merge")
    add_plan(fleet, {"A": [], "B": ["A"]})
    before = fleet.remote_refs("refs/heads/main")
    proc = fleet.start(fleet.first, "--shard", "1/1")
    out = proc.communicate(timeout=400)[0]
    assert proc.returncode == 0, out
    assert "--shard cannot share through origin" in out, out
    assert fleet.remote_refs("refs/") == before, "nothing pushed: main is not moved by --shard"
    target = fleet.first.root / "_target"
    log = subprocess.run(["git", "-C", str(target), "log", "--format=%s", "main"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert log.count("\n") > 1, "landed on the local clone, as integration.land_on says"


@pytest.mark.integration
def test_a_remote_gone_mid_run_still_ends_with_junit_and_report(fleet: Fleet) -> None:
    add_plan(fleet, {"A": []})
    junit = fleet.tmp / "junit.xml"
    proc = fleet.start(fleet.first, "--shared", "--junit", str(junit))
    assert proc.stdout is not None
    for line in proc.stdout:  # the claim is made: then the remote goes away
        if " claimed A" in line:
            fleet.origin.rename(fleet.origin.with_name("gone.git"))
            break
    out = proc.communicate(timeout=400)[0]
    assert proc.returncode == 1, out
    assert "Traceback" not in out, out
    assert [c.get("name") for c in ElementTree.parse(junit).getroot().iter("testcase")] == ["A"]
    assert (fleet.first.logs / "report.html").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_losing_one_claim_of_a_run_of_two_stops_that_one_and_the_other_goes_on(
    fleet: Fleet,
) -> None:
    """`-n 2`: the claim on S is taken over while S and T build in one doit run: the run stops
    at once (S's session ends), and a new run goes on with T, which is delivered once."""
    slow = module_body("m_slow", "f_slow", note="\n\n<!-- scripted:hold=8 -->\n")
    fleet.first.add_taskspec("S", body=slow)
    other = module_body("m_other", "f_other", note="\n\n<!-- scripted:hold=8 -->\n")
    fleet.first.add_taskspec("T", body=other)
    proc = fleet.start(fleet.first, "--shared", "--runner", "m0", "-n", "2")
    wait_for_launch(fleet, "S", proc)
    wait_for_launch(fleet, "T", proc)
    git = ["git", "-C", str(fleet.origin)]
    tree = subprocess.run([*git, "hash-object", "-w", "-t", "tree", "/dev/null"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    theirs = subprocess.run([*git, "commit-tree", tree, "-m", "claim S by elsewhere"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    subprocess.run([*git, "update-ref", "refs/hatchdoit/claims/S", theirs], check=True)
    out = proc.communicate(timeout=400)[0]
    assert "lost the claim on S" in out and "a claim of it was lost" in out, out
    assert proc.returncode == 0, out
    assert sorted(pr["head"] for pr in fleet.prs()) == ["taskspec/S", "taskspec/T"], out


@pytest.mark.integration
def test_with_a_shared_key_runners_accept_only_sealed_records(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    fleet = make_fleet(tmp_path, 2)
    try:
        add_plan(fleet, {"A": []})
        one, two = fleet.machines
        one.env["HATCHDOIT_SHARED_KEY"] = "k" * 32
        proc = fleet.start(one, "--shared", "--runner", "m0")
        out = proc.communicate(timeout=400)[0]
        assert proc.returncode == 0, out
        assert "HATCHDOIT_SHARED_KEY is not set" not in out, out
        two.env["HATCHDOIT_SHARED_KEY"] = "other"
        proc = fleet.start(two, "--shared", "--runner", "m1")
        out = proc.communicate(timeout=400)[0]
        assert "refused the snapshot refs/hatchdoit/state/A" in out, out
        assert " claimed A" not in out, "a refused snapshot is not rebuilt here"
        assert proc.returncode == 1, out
        two.env["HATCHDOIT_SHARED_KEY"] = "k" * 32
        proc = fleet.start(two, "--shared", "--runner", "m1")
        out = proc.communicate(timeout=400)[0]
        assert proc.returncode == 0 and " claimed A" not in out, out
        del two.env["HATCHDOIT_SHARED_KEY"]
        proc = fleet.start(two, "--shared", "--runner", "m1")
        out = proc.communicate(timeout=400)[0]
        assert "HATCHDOIT_SHARED_KEY is not set" in out, out
    finally:
        fleet.teardown()


@pytest.mark.integration
def test_status_fetch_leaves_the_records_of_a_running_build_alone(tmp_path: Path) -> None:
    """A machine running a plain build (it holds the build lock) keeps its own records while
    `status --fetch` runs there; once the build is over, the remote's records come in."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed")
    fleet = make_fleet(tmp_path, 2)
    try:
        add_plan(fleet, {"A": []})
        one, two = fleet.machines
        proc = fleet.start(one, "--shared", "--runner", "m0")
        assert proc.communicate(timeout=400)[0] is not None and proc.returncode == 0
        lock = two.logs / "locks" / "build.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)  # as a running doit holds it
            assert status(fleet, 1, "--fetch")["A"] != "done"
            assert not two.layout.done("A").exists(), "nothing written during the build"
        assert status(fleet, 1, "--fetch")["A"] == "done"
    finally:
        fleet.teardown()


@pytest.mark.integration
def test_a_claim_with_an_endless_lease_is_shown_malformed(fleet: Fleet) -> None:
    add_plan(fleet, {"A": []})
    remote = Remote(fleet.first.root / "_target", "origin")
    claim = b'{"runner": "x", "taskspec_id": "A", "claimed_at": "2026-01-01T00:00:00+00:00", '
    claim += b'"renewed_at": "2026-01-01T00:00:00+00:00", "lease_seconds": Infinity}'
    sha = remote.commit({"claim.json": claim}, "claim A by x", None)
    assert remote.push([Update(CLAIMS + "A", sha, None)])
    machine = fleet.first
    done = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(machine.root), "status", "--fetch"],
        env=machine.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "A: held by runner (malformed claim) until unknown" in done.stdout, done.stdout
