"""The loop of `hatchdoit ci --shared` (and of `--shard K/N` with a remote): several runners,
one build, shared through the git remote (docs/ci.md "Several runners, one build").

Each round: fetch; materialise the records other runners pushed (state_sync.py); take the
next ready TaskSpec (its dependencies delivered, nobody holding it) in critical-path order,
claim it (claims.py), run doit for it, push its records and branch after the run, and once it
is settled (delivered, escalated, waiting on a person) release it in that same atomic push.
While a claim is held, a thread renews it every lease/3 seconds together with the TaskSpec's
records, so another runner sees the work so far and can resume from it after a takeover. A
runner with nothing it can build while other runners hold what is left (or what it depends on)
polls the remote, for `shared.wait_seconds` at most; what still waits then is recorded as
waiting on a runner (records/waiting.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hatchdoit.build.priority import start_order
from hatchdoit.core.errors import EXIT_CONFIG, EXIT_OK, HatchdoitError
from hatchdoit.layout import ROLES
from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.project import Project
from hatchdoit.records.audit import audit
from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.records.waiting import (
    KINDS,
    WaitingRecord,
    clear_waiting,
    read_waiting,
    record_waiting,
    waiting_of,
)
from hatchdoit.run.context import StepContext
from hatchdoit.shared.claims import Claims, Renewer, runner_name
from hatchdoit.shared.remote_refs import CLAIMS, STATE, Remote
from hatchdoit.shared.state_sync import materialise, push_state
from hatchdoit.steps.agent_session import attach, end_session

PERSON = tuple(kind.state for kind in KINDS.values() if kind.kind != "runner")
SETTLED = ("done", "escalated", "setup failed", *PERSON)
INTERRUPTED = (130, 143)
DOIT_USAGE_ERROR = 3
SYNC_TRIES = 5


def remote_of(project: Project) -> Remote:
    config = project.config
    return Remote(project.target_repo, config.integration.remote, config.target.commit_as)


def end_sessions(project: Project, tid: str) -> None:
    """End this machine's live agent sessions of `tid` (another runner builds it now)."""
    ctx = StepContext(project, tid)
    for role in ROLES:
        for attempt in range(1, project.attempt_count(tid) + 1):
            run = attach(ctx, role, attempt)
            if run is not None and run.tmux.alive(run.session, run.launch.run_token):
                end_session(run)


def status_of(project: Project, tid: str) -> str:
    """done, escalated, setup failed, awaiting review/merge, or pending/active/paused."""
    progress = taskspec_progress(project, tid)
    if progress.get("setup_failed"):
        return "setup failed"
    kind = waiting_of(progress)
    if kind is not None and kind.kind != "runner":
        return kind.state
    return str(progress["status"])


@dataclass
class SharedResult:
    code: int = EXIT_OK
    waiting: dict[str, list[str]] = field(default_factory=dict)  # TaskSpec -> on what
    gave_up: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # remote records made for other inputs


class SharedRunner:
    """One runner's share of the build of `selected` (every TaskSpec, or a shard's)."""

    def __init__(
        self,
        project: Project,
        selected: list[str],
        build: Callable[[list[str], threading.Event], int],
        say: Callable[[str], None],
        runner: str | None = None,
        max_runs: int = 5,
        slots: int = 1,
    ) -> None:
        """`build(tids, abandon)`: one doit run for those TaskSpecs, its exit code; it stops
        the run when `abandon` is set (every claim of the run was lost). `slots`: how many
        TaskSpecs one doit run builds side by side (`-n`)."""
        self.project = project
        self.selected = selected
        self.build = build
        self.say = say
        self.max_runs = max_runs
        self.slots = max(slots, 1)
        self.remote = remote_of(project)
        self.claims = Claims(self.remote, runner_name(runner), project.config.shared.lease_seconds)
        self.result = SharedResult()
        self._wake = threading.Event()
        self._building: list[str] = []
        self._abandon = threading.Event()
        self._status: dict[str, str] = {}

    # What the remote says --------------------------------------------------------------------

    def sync(self) -> None:
        """Fetch, read the claims, materialise the records of TaskSpecs this runner does not
        hold, and say once of each whose records were made for other inputs."""
        with self.claims.lock:  # not while the renewer fetches or pushes (the same refs)
            self.remote.fetch()
            fetched = self.remote.refs(CLAIMS, STATE)
        self.claims.observe(fetched)
        plan = self.project.plan.taskspecs
        theirs = []
        for ref, sha in fetched.items():
            tid = ref.removeprefix(STATE)
            if ref.startswith(STATE) and tid in plan and tid not in self.claims.held:
                materialise(self.remote, self.project.layout, tid, sha)
                theirs.append(tid)
        self.project.refresh()
        self._status = {tid: status_of(self.project, tid) for tid in plan}
        for tid in theirs:
            self._check_inputs(tid)

    def _check_inputs(self, tid: str) -> None:
        done = try_load(self.project.layout.done(tid), DoneRecord)
        if done is None or done.digest == self.project.digest(tid) or tid in self.result.foreign:
            return
        self.result.foreign.append(tid)
        self.say(
            f"hatchdoit ci: {tid}: the remote's records were made for other inputs (another "
            "hatchdoit version, hatchdoit.yaml or HATCHDOIT_ENV): not rebuilt here (fix: run "
            f"every runner with the same version and config, or `hatchdoit reset {tid}`)"
        )

    def settled(self, tid: str) -> bool:
        return self._status.get(tid) in SETTLED or self.blocked(tid)

    def blocked(self, tid: str) -> bool:
        """A dependency is settled without being done (escalated, waiting on a person)."""
        for dep in self.project.taskspec(tid).depends_on:
            if self._status.get(dep) != "done" and (self.settled(dep) or dep in self._stuck()):
                return True
        return False

    def _stuck(self) -> set[str]:
        return set(self.result.gave_up) | set(self.result.foreign)

    def ready(self, tid: str) -> bool:
        deps = self.project.taskspec(tid).depends_on
        return all(self._status.get(d) == "done" for d in deps) and not (
            self.claims.held_elsewhere(tid)
        )

    def waits_on(self, tid: str) -> list[str]:
        deps = self.project.taskspec(tid).depends_on
        return [d for d in deps if self._status.get(d) != "done"] or [tid]

    # The loop --------------------------------------------------------------------------------

    def run(self) -> SharedResult:
        layout = self.project.layout
        for tid in self.selected:
            if self._runner_wait(tid):
                clear_waiting(layout, tid)
        ranks = {tid: r.rank for tid, r in start_order(self.project).items()}
        order = sorted(self.selected, key=lambda t: ranks.get(t, 0))
        idle_since: float | None = None
        said = ""

        def push(tid: str) -> bool:
            return push_state(self.remote, layout, tid, self.claims)

        with Renewer(self.claims, self.say, push, self._lost):
            while True:
                self._sync_retrying()
                todo = [t for t in order if not self.settled(t) and t not in self._stuck()]
                if not todo:
                    break
                ready = [t for t in todo if self.ready(t)]
                taken: list[str] = []
                for tid in ready:
                    before = self.claims.holder(tid)
                    if len(taken) < self.slots and self.claims.claim(tid):
                        taken.append(tid)
                        self._claimed(tid, before.runner if before is not None else None)
                if taken:
                    idle_since = None
                    if self.build_held(taken) in INTERRUPTED:
                        return self.result
                    continue
                if ready:  # someone claimed them first: look again at once
                    continue
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= self.project.config.shared.wait_seconds:
                    break
                line = ", ".join(f"{t} (on {', '.join(self.waits_on(t))})" for t in todo)
                if line != said:
                    self.say(f"hatchdoit ci: waiting on other runners: {line}")
                    said = line
                self._wake.wait(self.project.config.shared.poll_seconds)
        for tid in todo:
            self.result.waiting[tid] = self.waits_on(tid)
            self._record_wait(tid, self.result.waiting[tid])
        return self.result

    def _lost(self, tid: str) -> None:
        """A claim was lost while its doit run goes on: stop the run once none of its
        TaskSpecs is ours any more (the runner that took them over builds them)."""
        if self._building and not set(self._building) & set(self.claims.held):
            self._abandon.set()

    def _claimed(self, tid: str, previous: str | None) -> None:
        """Say and audit a claim (a takeover names the runner whose lease ran out)."""
        me = self.claims.runner
        over = f" (taken over from {previous}, whose lease ran out)" if previous else ""
        self.say(f"hatchdoit ci: {me} claimed {tid}{over}")
        audit(self.project.layout.audit, "shared_claimed", tid, runner=me, taken_over=previous)

    def _sync_retrying(self) -> None:
        """`sync`, tried again a few times when the remote does not answer (then raised)."""
        for left in range(SYNC_TRIES - 1, -1, -1):
            try:
                self.sync()
                return
            except HatchdoitError as exc:
                if not left:
                    raise
                self.say(f"hatchdoit ci: fetching from {self.remote.name} failed ({exc}): again")
                self._wake.wait(self.project.config.shared.poll_seconds)

    def build_held(self, tids: list[str]) -> int:
        """Run doit for claimed TaskSpecs (one run for all: `-n` builds them side by side)
        until each is settled, makes no progress, or its claim is lost; push their records
        after each run; release each at its end."""
        previous: dict[str, dict[str, Any]] = {}
        left = list(tids)
        code = 0
        for run in range(self.max_runs):
            self._abandon.clear()
            self._building = list(left)
            code = self.build(left, self._abandon)
            self._building = []
            abandoned = self._abandon.is_set()
            stopped = code in INTERRUPTED or code == DOIT_USAGE_ERROR
            self.project.refresh()
            for tid in list(left):
                self._status[tid] = status_of(self.project, tid)
                progress = taskspec_progress(self.project, tid)
                stuck = progress == previous.get(tid)
                previous[tid] = progress
                # Its records go up with the claim's release when this was its last run.
                last = stopped or self.settled(tid) or stuck or run == self.max_runs - 1
                if not self._push(tid, release=last and not abandoned):
                    self.say(f"hatchdoit ci: lost the claim on {tid}: another runner took it")
                    left.remove(tid)
                    continue
                if last and not stopped:
                    left.remove(tid)
                    if not self.settled(tid):
                        self.result.gave_up.append(tid)
                        said = "changed nothing" if stuck else "did not settle it"
                        self.say(f"hatchdoit ci: {tid}: the last doit run {said}")
            if abandoned:
                self.say("hatchdoit ci: stopped the doit run: its claims were lost")
                for tid in tids:
                    if tid not in self.claims.held:
                        end_sessions(self.project, tid)
                return 0
            if stopped:
                self.result.code = code if code in INTERRUPTED else EXIT_CONFIG
                if code == DOIT_USAGE_ERROR:
                    self.result.gave_up += left
                break
            if not left:
                break
        for tid in left:  # released with their records already; a lost push: released here
            self.claims.release(tid)
        return code

    def _push(self, tid: str, release: bool = False) -> bool:
        """Push the records of a TaskSpec held (with `release`, and delete its claim in the
        same push), leased first on what this runner knows of the remote; a lease of its
        records that did not hold (a person's decision pushed meanwhile) is read again from
        the remote. False: the claim was lost."""
        layout = self.project.layout
        for attempt in range(3):
            fresh = attempt > 0
            if push_state(self.remote, layout, tid, self.claims, release=release, fresh=fresh):
                return True
            if tid not in self.claims.held:
                return False
        if release:  # its records could not go up: the claim goes all the same
            self.claims.release(tid)
        return True

    def _runner_wait(self, tid: str) -> bool:
        record = read_waiting(self.project.layout, tid, self._digest(tid))
        return record is not None and record.kind == "runner"

    def _digest(self, tid: str) -> str:
        return self.project.step_digest(tid, "worktree", 0)

    def _record_wait(self, tid: str, on: list[str]) -> None:
        record = WaitingRecord(
            taskspec_id=tid, kind="runner", on=on, step="shared", digest=self._digest(tid)
        )
        record_waiting(self.project.layout, record)
