"""Claims with leases: which runner builds which TaskSpec (`refs/hatchdoit/claims/<ID>`).

A claim is a commit (made without a working tree) whose tree holds `claim.json`: the runner,
the TaskSpec, when it was claimed and last renewed, and the lease in seconds.

- claim: a push creating the ref, leased on "must not exist": refused means someone has it;
- renew: every lease/3 seconds (a thread of `hatchdoit ci --shared`, which stays alive while
  its doit child waits on an agent), a new commit leased on the previous one; refused means
  another runner took it over (our lease had run out on its clock): we stop building it;
- release: delete, leased on our last commit, once the TaskSpec is delivered or escalated;
- expiry is judged by the OBSERVER's own monotonic clock: a claim whose commit has not changed
  for `lease_seconds` since this runner first saw that commit is expired. No clock of another
  machine is read, so clock skew between runners does not matter; a runner that just started
  waits a whole lease before it takes over a claim it finds;
- takeover: a push replacing the expired commit with our claim, leased on that commit.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from hatchdoit.core.clock import now_iso
from hatchdoit.core.errors import HatchdoitError
from hatchdoit.shared.remote_refs import CLAIMS, Remote, Update

CLAIM_FILE = "claim.json"


class ClaimRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    runner: str
    taskspec_id: str
    claimed_at: str
    renewed_at: str
    lease_seconds: float = Field(gt=0, le=86400, allow_inf_nan=False)  # else malformed


def runner_name(name: str | None = None) -> str:
    """`--runner NAME`, else host, process id and a random part: unique per process."""
    return name or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Claims:
    """This runner's view of the claims on the remote, and the ones it holds."""

    def __init__(
        self,
        remote: Remote,
        runner: str,
        lease_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.remote = remote
        self.runner = runner
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.held: dict[str, str] = {}  # TaskSpec -> the sha of our claim on the remote
        self.renewed: dict[str, float] = {}  # TaskSpec -> when our claim last reached it
        self.lost: set[str] = set()  # taken over while we held it
        self.current: dict[str, str] = {}  # TaskSpec -> claim sha, as last fetched
        self._seen: dict[str, tuple[str, float]] = {}  # TaskSpec -> (sha, when first seen)
        self._records: dict[str, ClaimRecord | None] = {}
        self.lock = threading.RLock()  # one write at a time: renewals, pushes of records

    # Reading ---------------------------------------------------------------------------------

    def observe(self, fetched: dict[str, str] | None = None) -> dict[str, str]:
        """Read the fetched claim refs (or take them from `fetched`, {remote ref: sha} read
        with others): {TaskSpec: sha}; starts the clock of each new sha."""
        refs = self.remote.refs(CLAIMS) if fetched is None else fetched
        found = {
            ref.removeprefix(CLAIMS): sha for ref, sha in refs.items() if ref.startswith(CLAIMS)
        }
        now = self.clock()
        with self.lock:
            self.current = found
            for tid, sha in found.items():
                if self._seen.get(tid, ("", 0.0))[0] != sha:
                    self._seen[tid] = (sha, now)
            for tid in set(self._seen) - set(found):
                del self._seen[tid]
        return found

    def record(self, sha: str) -> ClaimRecord | None:
        if sha not in self._records:
            try:
                text = self.remote.files_of(sha).get(CLAIM_FILE, b"")
                self._records[sha] = ClaimRecord.model_validate(json.loads(text))
            except (ValueError, HatchdoitError):
                self._records[sha] = None
        return self._records[sha]

    def holder(self, tid: str) -> ClaimRecord | None:
        sha = self.current.get(tid)
        return self.record(sha) if sha else None

    def expired(self, tid: str) -> bool:
        """Whether the claim on `tid` has not been renewed for its lease, by our clock."""
        sha = self.current.get(tid)
        if sha is None or sha not in {self._seen.get(tid, ("", 0.0))[0]}:
            return False
        record = self.record(sha)
        lease = record.lease_seconds if record is not None else self.lease_seconds
        return self.clock() - self._seen[tid][1] >= lease

    def held_elsewhere(self, tid: str) -> bool:
        """Another runner holds `tid` and its lease has not run out."""
        return tid in self.current and tid not in self.held and not self.expired(tid)

    # Writing ---------------------------------------------------------------------------------

    def _commit(self, tid: str, parent: str | None, claimed_at: str | None = None) -> str:
        now = now_iso()
        record = ClaimRecord(
            runner=self.runner,
            taskspec_id=tid,
            claimed_at=claimed_at or now,
            renewed_at=now,
            lease_seconds=self.lease_seconds,
        )
        data = (json.dumps(record.model_dump(), indent=2, sort_keys=True) + "\n").encode()
        return self.remote.commit({CLAIM_FILE: data}, f"claim {tid} by {self.runner}", parent)

    def claim(self, tid: str) -> bool:
        """Take `tid`: it is unclaimed, or its claim expired (takeover). False: someone has it
        (or took it first)."""
        with self.lock:
            if tid in self.held:
                return True
            expected = self.current.get(tid)
            if expected is not None and not self.expired(tid):
                return False
            sha = self._commit(tid, None)
            if not self.remote.push([Update(CLAIMS + tid, sha, expected)]):
                return False
            self.held[tid] = sha
            self.current[tid] = sha
            self.renewed[tid] = self.clock()
            self.lost.discard(tid)
            return True

    def push_with(self, tid: str, updates: Sequence[Update], release: bool = False) -> bool:
        """Push `updates` in one atomic push with a renewal of our claim on `tid` (with
        `release`, its deletion: the TaskSpec is settled): written only while we still hold
        it. False: the claim was taken over (nothing was written), or a lease of `updates`
        did not hold (the claim is still held then)."""
        with self.lock:
            old = self.held.get(tid)
            if old is None:
                return False
            sha = None
            if not release:
                record = self.record(old)
                sha = self._commit(tid, old, record.claimed_at if record else None)
            if self.remote.push([Update(CLAIMS + tid, sha, old), *updates]):
                if sha is None:
                    del self.held[tid]
                    self.current.pop(tid, None)
                    self.renewed.pop(tid, None)
                else:
                    self.held[tid] = self.current[tid] = sha
                    self.renewed[tid] = self.clock()
                return True
            if self.remote.live([CLAIMS + tid]).get(CLAIMS + tid) != old:
                self._lose(tid)
            return False  # still ours: another lease of `updates` did not hold

    def renew(self) -> list[str]:
        """Renew every claim held; the TaskSpecs whose claim was taken over (lost)."""
        with self.lock:
            return [tid for tid in list(self.held) if not self.push_with(tid, [])]

    def release(self, tid: str) -> None:
        """Delete our claim (leased on our last commit): the TaskSpec is settled."""
        with self.lock:
            old = self.held.pop(tid, None)
            if old is not None and self.remote.push([Update(CLAIMS + tid, None, old)]):
                self.current.pop(tid, None)

    def overdue(self, tid: str) -> bool:
        """Our claim on `tid` has not reached the remote for a whole lease (the network, the
        remote): another runner may take it over at any moment, so we count it lost."""
        with self.lock:
            if tid in self.held and self.clock() - self.renewed.get(tid, 0.0) >= self.lease_seconds:
                self._lose(tid)
                return True
            return False

    def _lose(self, tid: str) -> None:
        self.held.pop(tid, None)
        self.lost.add(tid)


class Renewer:
    """Renews the claims held every lease/3 seconds until stopped; a failed renewal (network)
    is said and tried again at the next tick."""

    def __init__(
        self,
        claims: Claims,
        say: Callable[[str], None],
        push: Callable[[str], bool] | None = None,
        lost: Callable[[str], None] | None = None,
        log: Callable[[str, dict[str, str]], None] | None = None,
    ) -> None:
        """`push(tid)`: renew the claim on `tid` with whatever else goes with it (its records:
        state_sync.push_state); False when the claim was lost. Default: the claim alone.
        `lost(tid)`: called once a claim is lost (taken over, or not renewed for a lease)."""
        self.claims = claims
        self.say = say
        self.push = push or (lambda tid: claims.push_with(tid, []))
        self.lost = lost or (lambda tid: None)
        self.log = log or (lambda msg, context: None)  # a JSON line of the runner's log
        self.dead = threading.Event()  # the thread ended by an error: nothing renews any more
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="claim-renewer", daemon=True)

    def __enter__(self) -> Renewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        try:
            self._renewals()
        except BaseException as exc:  # the thread ends: claims stop renewing, so must the run
            self.dead.set()
            self.say(f"hatchdoit ci: the claim renewer stopped ({type(exc).__name__}: {exc}): "
                     "the doit run is stopped")  # fmt: skip
            self.log("claim renewer died", {"error": repr(exc)})
            for tid in list(self.claims.held):
                self.lost(tid)

    def _renewals(self) -> None:
        interval = max(self.claims.lease_seconds / 3, 0.2)
        while not self._stop.wait(interval):
            for tid in list(self.claims.held):
                try:
                    if not self.push(tid) and tid in self.claims.lost:
                        self.say(f"hatchdoit ci: lost the claim on {tid}: another runner took it")
                        self.lost(tid)
                except Exception as exc:  # any failure: said, and tried again next tick
                    self.say(f"hatchdoit ci: renewing the claim on {tid} failed: {exc}")
                    self.log("claim renewal failed", {"taskspec_id": tid, "error": repr(exc)})
                    if self.claims.overdue(tid):
                        self.say(f"hatchdoit ci: gave up {tid}: its claim was not renewed for "
                                 "a whole lease, another runner may have it")  # fmt: skip
                        self.lost(tid)
