"""The branch a landing moves: the target repo's integration branch (`integration.land_on:
local`, the default), or the same branch on `integration.remote` (`land_on: remote`, also
`HATCHDOIT_LAND_ON=remote`, which `hatchdoit ci --shared` sets; it is no input of any digest).

Local: the tip is the branch's ref; the compare-and-swap is `git update-ref <ref> <new> <old>`.
Remote: the tip is fetched from the remote (into its remote-tracking ref); the compare-and-swap
is `git push --atomic --porcelain --force-with-lease=refs/heads/<branch>:<old> <remote>
<new>:refs/heads/<branch>`, with the remote as configured (its URL and the user's credentials
helper; nothing secret on the command line). A push the lease or a fast-forward check refused
(or the server's ref lock, racing another push) means someone landed first: the caller fetches
and does it all again on the new tip, as it does when the local branch moved. A push the
server refused for other reasons (a protected branch, a hook, no permission) ends the
integration with one line: merge modes cannot land there. After a
push, the local branch follows by fast-forward only (never when it has commits of its own), and
whoever has it checked out is told as after a local landing (checkout.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hatchdoit.config.models import IntegrationConfig
from hatchdoit.core.errors import ConfigError, StepError
from hatchdoit.delivery.branch_guard import trust_fetched
from hatchdoit.delivery.checkout import tell_checkout
from hatchdoit.delivery.landing_fence import LANDED, fences, fetch_spec, landed_elsewhere
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git, try_git

LandOn = Literal["local", "remote"]
LAND_ON_ENV = "HATCHDOIT_LAND_ON"
PUSH_TIMEOUT = 300.0
MOVED_REASONS = ("stale info", "fetch first", "non-fast-forward", "already exists")
# a server refusing an update that raced another push (git's "cannot lock ref ...: is at X but
# expected Y"): someone landed first too, not a protected branch
FENCE_TRIES = 5  # a renewal of the claim racing the landing: read the claim again
# (under --atomic the ref's own line says only "atomic transaction failed": the server's ref
# transaction failed to commit, a lock another push held, never a policy, which is "declined")
RACED_REASONS = (
    "cannot lock ref", "failed to lock", "but expected", "incorrect old value",
    "atomic transaction failed",
)  # fmt: skip


def land_on(settings: IntegrationConfig) -> LandOn:
    """`integration.land_on`, unless HATCHDOIT_LAND_ON says otherwise."""
    value = os.environ.get(LAND_ON_ENV, "").strip()
    if not value:
        return settings.land_on
    if value not in ("local", "remote"):
        raise ConfigError(
            f"{LAND_ON_ENV}={value!r} is neither local nor remote",
            field=LAND_ON_ENV,
            fix=f"set {LAND_ON_ENV}=local or {LAND_ON_ENV}=remote, or unset it",
        )
    return "remote" if value == "remote" else "local"


class ProtectedBranch(StepError):
    """The remote refused the push for a reason other than someone landing first."""


class BranchTarget:
    """Where landings go, with the compare-and-swap that moves it (see the module docstring)."""

    def __init__(self, ctx: StepContext, branch: str) -> None:
        self.ctx, self.branch = ctx, branch
        self.repo = ctx.project.target_repo
        self.ref = f"refs/heads/{branch}"
        settings = ctx.project.config.integration
        self.remote = settings.remote if land_on(settings) == "remote" else None
        if self.remote is not None and self.remote.startswith("-"):
            raise ConfigError(
                f"integration.remote {self.remote!r} starts with '-' (git would read an option)",
                field="integration.remote",
                fix="name the remote (`git remote -v` lists them)",
            )
        self.tracking = f"refs/remotes/{self.remote}/{branch}"

    @property
    def on_remote(self) -> bool:
        return self.remote is not None

    def tip(self) -> str:
        """The branch's tip now (fetched first when it is the remote's)."""
        if self.remote is None:
            return _rev(self.repo, self.ref)
        done = try_git(
            self.repo, "fetch", "--quiet", "--no-tags", "--prune", self.remote,
            f"+{self.ref}:{self.tracking}", fetch_spec(self.remote), timeout=PUSH_TIMEOUT,
        )  # fmt: skip
        if done.returncode != 0:
            raise StepError(
                f"cannot fetch {self.branch} from {self.remote}: {_last_line(done)}",
                taskspec_id=self.ctx.tid,
                operation="integrate",
                path=self.repo,
                fix=f"check `git -C {self.repo} fetch {self.remote} {self.branch}` works, or set "
                "integration.land_on: local",
            )
        tip = _rev(self.repo, self.tracking)
        trust_fetched(self.ctx.layout, self.branch, tip)
        return tip

    def swap(self, new: str, old: str, what: str) -> bool:
        """Move the branch from `old` to `new`; False when it is no longer at `old`."""
        if self.remote is None:
            message = f"hatchdoit: integrate {what}"
            done = try_git(self.repo, "update-ref", "-m", message, self.ref, new, old)
            return done.returncode == 0
        tids = what.split(",")
        fenced = fences(self.ctx.layout, tids)
        if "" in fenced.values():
            raise self._claim_lost(what)
        for _ in range(FENCE_TRIES):
            done = self._push(new, old, tids, fenced)
            stale = [ref for ref in fenced if _stale(done.stdout, ref)]
            if not stale:
                break
            for ref in stale:  # our runner's renewal (a child of our claim) raced us: lease on it
                live = self._renewal_of(ref, fenced[ref])
                if live is None:
                    raise self._claim_lost(what)
                fenced[ref] = live
        if any(_stale(done.stdout, LANDED + tid) for tid in tids):
            return False  # another runner landed one of them: the caller finds it landed
        status = _push_status(done.stdout, self.ref)
        if done.returncode == 0 and status is not None and status[0] in " +=*":
            git(self.repo, "update-ref", self.tracking, new)
            trust_fetched(self.ctx.layout, self.branch, new)
            return True
        said = status[1] if status is not None else _last_line(done)
        refused = status is not None and status[0] == "!"
        if refused and "[rejected]" in said and any(r in said for r in MOVED_REASONS):
            return False  # someone landed first
        told = f"{said}\n{done.stderr}"  # the server's reason comes as "remote: error: ..."
        if refused and "[remote rejected]" in said and any(r in told for r in RACED_REASONS):
            return False  # the server saw someone land first
        if refused and "[remote rejected]" in said:
            raise ProtectedBranch(
                f"{self.remote} refused the push to {self.branch} ({said}): merge modes cannot "
                "push there; use `integrate: pr`",
                taskspec_id=self.ctx.tid,
                operation="integrate",
                fix=f"set `integrate: pr` (or integration.land_on: local), or let this runner "
                f"push to {self.branch}",
            )
        denied = [line for line in f"{done.stderr}\n{said}".splitlines() if _denied(line)]
        if denied and not refused:  # no ref was reported: the server turned the push away
            said = denied[0].strip()
            raise ProtectedBranch(
                f"{self.remote} refused the push to {self.branch} ({said}): merge modes cannot "
                "push there; use `integrate: pr`",
                taskspec_id=self.ctx.tid,
                operation="integrate",
                fix=f"set `integrate: pr` (or integration.land_on: local), or give this runner "
                f"push rights to {self.branch}",
            )
        raise StepError(
            f"git push to {self.remote} failed for {self.branch}: {said}",
            taskspec_id=self.ctx.tid,
            operation="integrate",
            path=self.repo,
            fix=f"check `git -C {self.repo} push {self.remote}` works (credentials, URL)",
        )

    def _push(
        self, new: str, old: str, tids: list[str], fenced: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        """One atomic push: the branch, the landed ref of each TaskSpec (leased on what the
        last fetch saw), and the claims fencing it (leased on our claim, pushed unchanged)."""
        assert self.remote is not None
        leases = [f"--force-with-lease={self.ref}:{old}"]
        refspecs = [f"{new}:{self.ref}"]
        for tid in tids:
            seen = try_git(self.repo, "rev-parse", "-q", "--verify",
                           f"refs/remotes/{self.remote}/hatchdoit/landed/{tid}")  # fmt: skip
            leases.append(f"--force-with-lease={LANDED}{tid}:{seen.stdout.strip()}")
            refspecs.append(f"{new}:{LANDED}{tid}")
        for ref, sha in fenced.items():
            leases.append(f"--force-with-lease={ref}:{sha}")
            refspecs.append(f"{sha}:{ref}")
        return try_git(self.repo, "push", "--atomic", "--porcelain", *leases, self.remote,
                       *refspecs, timeout=PUSH_TIMEOUT)  # fmt: skip

    def _renewal_of(self, ref: str, ours: str) -> str | None:
        """The remote's claim `ref` when it renews `ours` (its commit's parent: a takeover has
        none), else None: the claim was taken over."""
        assert self.remote is not None
        listed = try_git(self.repo, "ls-remote", self.remote, ref, timeout=PUSH_TIMEOUT)
        live = listed.stdout.split("\t", 1)[0].strip()
        parent = try_git(self.repo, "rev-parse", "-q", "--verify", f"{live}^") if live else None
        return live if parent is not None and parent.stdout.strip() == ours else None

    def _claim_lost(self, what: str) -> StepError:
        return StepError(
            f"the claim on {what} was lost (another runner took it over): not landed here",
            taskspec_id=self.ctx.tid,
            operation="integrate",
            fix="nothing to do: the runner that holds it now lands it",
        )

    def landed_elsewhere(self, tid: str, approved: str, tip: str) -> str | None:
        """On the remote: `tid` landed by a runner whose records never arrived (landing_fence)."""
        if self.remote is None:
            return None
        return landed_elsewhere(self.repo, self.remote, tid, approved, tip)

    def follow(self, new: str) -> str | None:
        """After a landing on the remote: the local branch fast-forwarded to `new` when it can
        be; its previous tip (for the checkouts to be told), else None (left as it was)."""
        if self.remote is None:
            return None
        found = try_git(self.repo, "rev-parse", "-q", "--verify", f"{self.ref}^{{commit}}")
        local = found.stdout.strip()
        if found.returncode != 0 or not local or local == new:
            return None
        if try_git(self.repo, "merge-base", "--is-ancestor", local, new).returncode != 0:
            self.ctx.log(
                "orchestrator",
                logging.WARNING,
                f"local {self.branch} has commits that are not on {self.remote}'s: it was left "
                f"where it is ({local[:12]}); {self.remote}'s is at {new[:12]}",
                operation="integrate",
            )
            return None
        message = f"hatchdoit: follow {self.remote}/{self.branch}"
        if try_git(self.repo, "update-ref", "-m", message, self.ref, new, local).returncode:
            return None  # it moved meanwhile: someone else's, left alone
        return local


@dataclass
class Moved:
    """The local integration branch moved from `previous` to `commit` (checkout.Move)."""

    commit: str
    previous: str
    branch: str


def local_tip(target: BranchTarget) -> str:
    """The local integration branch's tip ("" when there is none)."""
    found = try_git(target.repo, "rev-parse", "-q", "--verify", f"{target.ref}^{{commit}}")
    return found.stdout.strip() if found.returncode == 0 else ""


def tell_moved(ctx: StepContext, target: BranchTarget, new: str, checkout_from: str) -> None:
    """After a landing that moved the branch to `new`: the local branch follows when the landing
    was on the remote, and whoever has the local branch checked out is told (checkout.py) of its
    move from `checkout_from`, the local tip before the landing."""
    if target.on_remote:
        target.follow(new)
    now = local_tip(target)
    if checkout_from and now and now != checkout_from:
        tell_checkout(ctx, Moved(now, checkout_from, target.branch))


def _rev(repo: Path, ref: str) -> str:
    return git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}").strip()


def _push_status(out: str, ref: str) -> tuple[str, str] | None:
    """The flag and summary of `ref`'s line of `git push --porcelain`'s output."""
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].endswith(f":{ref}"):
            return parts[0][:1] or " ", parts[2]
    return None


DENIED = ("error: 403", " 403", "permission", "denied", "not allowed", "forbidden")


def _denied(line: str) -> bool:
    """A line of git's saying the server refused this user the push (no porcelain line)."""
    return any(word in line.lower() for word in DENIED)


def _stale(out: str, ref: str) -> bool:
    """`ref` was refused because its lease did not hold (or it exists already)."""
    status = _push_status(out, ref)
    return status is not None and status[0] == "!" and any(r in status[1] for r in MOVED_REASONS)


def _last_line(done: object) -> str:
    text = (getattr(done, "stderr", "") or getattr(done, "stdout", "") or "").strip()
    lines = text.splitlines()
    return lines[-1] if lines else "no output"
