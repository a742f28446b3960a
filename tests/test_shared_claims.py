"""Claims with leases on a real bare remote (shared/claims.py): two runners (two clones of the
target, one bare `origin`) create, refuse, renew, release and take over claims; expiry is judged
by the observer's own clock (a fake one here, so no test waits)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hatchdoit.core.errors import StepError
from hatchdoit.shared.claims import Claims
from hatchdoit.shared.remote_refs import CLAIMS, Remote, Update


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    return bare


def clone(origin: Path, name: str) -> Remote:
    repo = origin.parent / name
    git(origin.parent, "init", "-q", "-b", "main", str(repo))
    git(repo, "remote", "add", "origin", str(origin))
    return Remote(repo, "origin")


def runner(origin: Path, name: str, clock: Clock, lease: float = 30.0) -> Claims:
    return Claims(clone(origin, name), name, lease, clock)


def look(claims: Claims) -> dict[str, str]:
    claims.remote.fetch()
    return claims.observe()


def test_a_claim_is_created_once_and_refused_to_the_second_runner(origin: Path) -> None:
    clock = Clock()
    a, b = runner(origin, "a", clock), runner(origin, "b", clock)
    look(a), look(b)
    assert a.claim("T1")
    assert not b.claim("T1"), "b's lease says 'must not exist': the remote refused"
    assert look(b) == {"T1": a.held["T1"]}
    assert b.held_elsewhere("T1") and not a.held_elsewhere("T1")
    holder = b.holder("T1")
    assert holder is not None and (holder.runner, holder.taskspec_id) == ("a", "T1")
    assert holder.lease_seconds == 30.0
    assert not b.claim("T1"), "a live claim is not taken over"
    assert b.claim("T2") and set(look(a)) == {"T1", "T2"}


def test_renewal_moves_the_claim_and_keeps_it_alive_on_the_observers_clock(origin: Path) -> None:
    clock = Clock()
    a, b = runner(origin, "a", clock), runner(origin, "b", clock)
    assert a.claim("T1")
    first = a.held["T1"]
    look(b)
    clock.now += 20  # two thirds of the lease
    assert a.renew() == [] and a.held["T1"] != first
    assert git(origin, "rev-parse", f"{a.held['T1']}^").strip() == first, "renewal has history"
    look(b)  # b sees a new commit: its clock starts again
    clock.now += 20
    assert not b.expired("T1") and not b.claim("T1")
    clock.now += 11  # 31 s since b saw the renewal: expired by b's clock
    assert b.expired("T1")


def test_a_runner_that_just_started_waits_a_whole_lease_whatever_the_claim_says(
    origin: Path,
) -> None:
    """The claim's own timestamps are never compared with this runner's clock (skew)."""
    clock_a, clock_b = Clock(), Clock()
    a = runner(origin, "a", clock_a)
    assert a.claim("T1")
    clock_a.now += 10_000  # a's clock says nothing to b
    clock_b.now += 5_000
    b = runner(origin, "b", clock_b)
    look(b)
    assert not b.expired("T1")
    clock_b.now += 29.9
    assert not b.expired("T1")
    clock_b.now += 0.2
    assert b.expired("T1")


def test_an_expired_claim_is_taken_over_and_the_old_holder_loses_it(origin: Path) -> None:
    clock = Clock()
    a, b, c = (runner(origin, n, clock) for n in ("a", "b", "c"))
    assert a.claim("T1")
    look(b), look(c)
    clock.now += 31  # a died: no renewal
    assert b.expired("T1") and c.expired("T1")
    assert b.claim("T1"), "takeover: leased on a's commit"
    assert not c.claim("T1"), "c's lease on a's commit no longer holds"
    assert look(c)["T1"] == b.held["T1"] and not c.expired("T1")
    assert a.renew() == ["T1"] and "T1" in a.lost and "T1" not in a.held
    assert look(a)["T1"] == b.held["T1"], "a's failed renewal wrote nothing"
    holder = a.holder("T1")
    assert holder is not None and holder.runner == "b"


def test_release_deletes_the_claim_leased_on_our_commit(origin: Path) -> None:
    clock = Clock()
    a, b = runner(origin, "a", clock), runner(origin, "b", clock)
    assert a.claim("T1")
    a.release("T1")
    assert "T1" not in a.held and look(b) == {}
    assert b.claim("T1")
    stale = git(origin, "rev-parse", f"{CLAIMS}T1").strip()
    assert b.renew() == []
    a.held["T1"] = stale  # a release leased on a commit the remote no longer has: refused
    a.release("T1")
    assert look(b) == {"T1": b.held["T1"]}


def test_a_push_refused_for_another_reason_than_a_lease_is_an_error(origin: Path) -> None:
    a = clone(origin, "a")
    sha = a.commit({"x.json": b"{}"}, "x", None)
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho protected >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(StepError, match="refused"):
        a.push([Update("refs/hatchdoit/state/T1", sha, None)])


def test_an_unreachable_remote_says_so(tmp_path: Path, origin: Path) -> None:
    a = clone(origin, "a")
    assert a.unreachable() is None
    git(a.repo, "remote", "set-url", "origin", str(tmp_path / "nowhere.git"))
    why = a.unreachable()
    assert why is not None and "not reachable" in why
    said = Remote(a.repo, "upstream").unreachable()
    assert said == f"{a.repo} has no remote 'upstream' (integration.remote)"


def test_a_release_goes_with_the_last_records_in_one_atomic_push(origin: Path) -> None:
    clock = Clock()
    a, b = runner(origin, "a", clock), runner(origin, "b", clock)
    assert a.claim("T1") and a.claim("T2")
    state = a.remote.commit({"done.json": b"{}"}, "state of T1", None)
    assert a.push_with("T1", [Update("refs/hatchdoit/state/T1", state, None)], release=True)
    assert "T1" not in a.held and "T1" not in a.current
    assert look(b) == {"T2": a.held["T2"]}, "the claim is gone from the remote"
    assert b.remote.ref("refs/hatchdoit/state/T1") == state, "with the records"
    assert a.remote.ref(CLAIMS + "T1") is None, "and from the releasing runner's copy"
    # A lease of the records that does not hold: nothing is written, the claim stays held.
    other = b.remote.commit({"done.json": b"{}"}, "state of T2", None)
    assert b.remote.push([Update("refs/hatchdoit/state/T2", other, None)])
    mine = a.remote.commit({"done.json": b"[]"}, "state of T2", None)
    held = a.held["T2"]
    assert not a.push_with("T2", [Update("refs/hatchdoit/state/T2", mine, None)], release=True)
    assert a.held["T2"] == held and look(b) == {"T2": held}, "the claim is still a's"
    assert git(origin, "rev-parse", "refs/hatchdoit/state/T2").strip() == other


def test_a_snapshot_is_read_back_byte_for_byte_with_its_message(origin: Path) -> None:
    a = clone(origin, "a")
    files = {
        "state/T/done.json": b'{"x": 1}\n',
        "hooks/T/factory-1.stop": b"\x00\xff binary\nwith newlines\n\n",
        "audit/T.jsonl": b"",
        "claim.json": b"top level",
    }
    sha = a.commit(files, "state of T\n\nrunner: r1\n", None)
    found, message = a.snapshot_of(sha)
    assert found == files
    assert message == "state of T\n\nrunner: r1\n"
    flat = a.commit({"claim.json": b"{}"}, "claim", None)  # a flat tree: made by mktree
    assert a.files_of(flat) == {"claim.json": b"{}"}
    assert a.tree({"claim.json": b"{}"}) == a.tree_of(flat)
