"""What of a batch lands: tested together once; a red batch retried once as a whole (a flaky
test), then bisected by ordered prefixes.

The batch is in dependency order. A *candidate* is a prefix of what is still pending: merged
onto the branch's tip one member after the other (each its own merge, squash or rebase with its
trailers, merge_queue._merge), then tested once: every member's own test_command and the
project's `integration.test_command`. Green: the candidate lands with one compare-and-swap and
the rest is tried on top of it. Red: the first half of the candidate is tried instead; a red
candidate of one is the culprit, sent back with the failure, and its dependents inside the batch
go back with it (their merge would bring its work in). A failure only two members cause
together (each half green, the union red) is still found: the first half lands, the second is
tried on top of it and halved again down to the one member that turns it red. A member in
conflict with what is before it is refused at once, as a single landing refuses it.

A candidate known red is not run again: when the first half of a red candidate lands, the
second half is red on top of it, so it is halved at once (and a red half of one is the culprit).
Runs for a batch of n with one culprit: 2 + about log2(n) + 1; with none: 1.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hatchdoit.core.atomicio import read_json, write_json_atomic
from hatchdoit.core.errors import StepError
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.branch_guard import guard_integration_branch, landed_by_intent
from hatchdoit.delivery.landing_target import BranchTarget, local_tip, tell_moved
from hatchdoit.delivery.merge_queue import (
    MOVES_TOLERATED,
    Landed,
    Mode,
    Refused,
    _merge,
    _prepare,
    _tail,
)
from hatchdoit.records.models import TestRun
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git, succeeds
from hatchdoit.run.setup_commands import set_up_integration
from hatchdoit.run.test_runs import run_test_command

Result = Landed | Refused


class BatchLanded(Landed):
    """Landed in a batch: the lander updated a checkout of the branch for the whole batch at
    each compare-and-swap (delivery/checkout.py), so the member's own landing does not."""


def land_in_batches(
    lander: StepContext, members: dict[str, str], mode: Mode, branch: str
) -> dict[str, Result]:
    """Each member's outcome (see the module docstring); `members` maps id to approved commit,
    in dependency order."""
    batch = _Batch(lander, members, mode, branch)
    batch.run()
    return batch.results


class _Batch:
    def __init__(
        self, lander: StepContext, members: dict[str, str], mode: Mode, branch: str
    ) -> None:
        self.lander, self.members, self.mode, self.branch = lander, members, mode, branch
        self.repo = lander.project.target_repo
        self.target = BranchTarget(lander, branch)
        self.results: dict[str, Result] = {}
        self.runs = 0  # test runs so far, for the log names
        self.moved = 0

    def ctx(self, tid: str) -> StepContext:
        return StepContext(self.lander.project, tid)

    def run(self) -> None:
        pending = list(self.members)
        candidate = list(pending)
        retried = False
        red: list[str] | None = None  # a candidate known red on the tip (bisected further)
        red_tests: list[TestRun] = []
        while pending:
            tip = self.target.tip()
            guard_integration_branch(self.lander, self.branch, "before landing")
            if self._found_landed(pending, tip):
                pending = [t for t in pending if t not in self.results]
                candidate = list(pending)
                continue
            self._write_intents(pending, tip)
            worktree = _prepare(self.lander, self.repo, tip)
            merged = self._merge_all(worktree, tip, candidate)
            if merged is None:  # a member conflicted: refused; try again without it
                pending = [t for t in pending if t not in self.results]
                candidate = list(pending)
                continue
            fault_point("integrate.after_merge", self.lander.tid)
            tests = self._tests(worktree, candidate)
            failed = [t for t in tests if t.exit_code != 0]
            if not failed:
                checkout_from = self._built(tip, merged, candidate)
                fault_point("integrate.before_update_ref", self.lander.tid)
                if not self._swap(merged, tip, candidate):
                    red = None  # the branch moved: everything again on its new tip
                    continue
                fault_point("integrate.after_update_ref", self.lander.tid)
                self._landed(tip, merged, candidate, tests)
                tell_moved(self.lander, self.target, merged, checkout_from)
                batch_record(self.lander).unlink(missing_ok=True)
                pending = pending[len(candidate) :]
                rest = red[len(candidate) :] if red and red[: len(candidate)] == candidate else []
                red, candidate = (rest or None), list(pending)
                if len(rest) == 1:  # what stayed red on top of what landed: known, not rerun
                    pending = self._refuse(rest[0], pending, tip, red_tests)
                    red, candidate = None, list(pending)
                elif rest:
                    candidate = rest[: len(rest) // 2]
                    self._say(f"bisecting: trying the first {len(candidate)}", tip)
                continue
            if len(candidate) == len(pending) and len(candidate) > 1 and not retried:
                retried = True  # a flaky test: the whole batch once more
                self._say(f"batch of {len(candidate)} red: trying it once more", tip)
                continue
            red, red_tests = list(candidate), tests
            if len(candidate) > 1:
                candidate = candidate[: len(candidate) // 2]
                self._say(f"bisecting: trying the first {len(candidate)}", tip)
                continue
            pending = self._refuse(candidate[0], pending, tip, tests)
            red, candidate = None, list(pending)

    def _refuse(
        self, culprit: str, pending: list[str], tip: str, tests: list[TestRun]
    ) -> list[str]:
        """The culprit and its dependents in the batch go back with the failure; what is left."""
        failed = [t for t in tests if t.exit_code != 0]
        output = _tail(self.ctx(culprit), failed[0]) if failed else ""
        refused = Refused("tests", tip, self.branch, tests=tests, output=output)
        for tid in self._with_dependents(culprit, pending):
            self.results[tid] = refused
        return [t for t in pending if t not in self.results]

    def _found_landed(self, pending: list[str], tip: str) -> bool:
        """An interrupted earlier batch landed some of them (their intents say from where)."""
        found = False
        for tid in pending:
            intent = self.lander.layout.integration_intent(tid)
            commit = (
                landed_by_intent(self.repo, tip, intent, require_built=self.target.on_remote)
                if _intends(intent, self.members[tid])
                else None
            ) or self.target.landed_elsewhere(tid, self.members[tid], tip)
            if commit is not None:
                self.results[tid] = BatchLanded(commit, tip, self.branch, moved=self.moved)
                found = True
        return found

    def _write_intents(self, pending: list[str], tip: str) -> None:
        for tid in pending:
            write_json_atomic(
                self.lander.layout.integration_intent(tid),
                {"approved": self.members[tid], "tip": tip},
            )

    def _built(self, tip: str, merged: str, candidate: list[str]) -> str:
        """Before the compare-and-swap: each member's intent names the commit about to land,
        and the batch's record where the local branch's checkouts stood (for a rerun to tell
        them after a crash: recover_batch). The local tip before the landing."""
        checkout_from = local_tip(self.target)
        record = {
            "tip": tip,
            "built": merged,
            "checkout_from": checkout_from,
            "branch": self.branch,
            "members": {t: self.members[t] for t in candidate},
        }
        write_json_atomic(batch_record(self.lander), record)
        for tid in candidate:
            write_json_atomic(
                self.lander.layout.integration_intent(tid),
                {"approved": self.members[tid], "tip": tip, "built": merged},
            )
        return checkout_from

    def _merge_all(self, worktree: Path, tip: str, candidate: list[str]) -> str | None:
        head = tip
        for tid in candidate:
            merged = _merge(self.ctx(tid), worktree, head, self.members[tid], self.mode)
            if isinstance(merged, list):
                refused = Refused("conflict", head, self.branch, files=merged)
                for each in self._with_dependents(tid, candidate):
                    self.results[each] = refused
                return None
            head = merged
        return head

    def _tests(self, worktree: Path, candidate: list[str]) -> list[TestRun]:
        """Each member's test_command, then integration.test_command once, on the merged tree."""
        self.runs += 1
        project = self.lander.project
        settings = project.config.integration
        commands = [(tid, "tests", self.ctx(tid).spec.test_command) for tid in candidate]
        if settings.test_command:
            commands.append((self.lander.tid, "integration-tests", settings.test_command))
        layout = self.lander.layout
        set_up_integration(
            self.lander, worktree, layout.integration_log(self.lander.tid, self.runs, "setup")
        )
        runs: list[TestRun] = []
        for tid, name, command in commands:
            if not command:
                continue
            runs.append(
                run_test_command(
                    command,
                    worktree,
                    settings.test_timeout,
                    layout.integration_log(tid, self.runs, name),
                    layout,
                    project.config.checks.env_passthrough,
                    project.config.workspace,
                    confinement=project.config.confinement,
                )
            )
            if runs[-1].exit_code != 0:
                break
        return runs

    def _swap(self, merged: str, tip: str, candidate: list[str]) -> bool:
        if self.target.swap(merged, tip, ",".join(candidate)):
            return True
        self.moved += 1
        if self.moved > MOVES_TOLERATED:
            raise StepError(
                f"{self.branch} moved {self.moved} times during the integration",
                taskspec_id=self.lander.tid,
                operation="integrate",
                fix="rerun doit when the branch is quieter",
            )
        self._say(f"{self.branch} moved during the integration: merging again on its new tip", tip)
        return False

    def _landed(self, tip: str, merged: str, candidate: list[str], tests: list[TestRun]) -> None:
        """Each member's own commit on the branch: the one carrying its approved trailer."""
        for tid in candidate:
            approved = self.members[tid]
            commit = git(
                self.repo,
                "log",
                "--first-parent",
                "--format=%H",
                "-F",
                f"--grep=Hatchdoit-Approved: {approved}",
                f"{tip}..{merged}",
            ).split()
            landed = commit[0] if commit else merged
            self.results[tid] = BatchLanded(landed, tip, self.branch, tests=tests, moved=self.moved)

    def _with_dependents(self, culprit: str, among: list[str]) -> list[str]:
        """The culprit and every member of `among` depending on it, directly or not."""
        out = [culprit]
        for tid in among:
            deps = set(self.ctx(tid).spec.depends_on)
            if tid not in out and deps & set(out):
                out.append(tid)
        return out

    def _say(self, message: str, tip: str) -> None:
        self.lander.log("orchestrator", logging.WARNING, message, operation="integrate", tip=tip)


def batch_record(lander: StepContext) -> Path:
    """The record of a batch about to land (written before its compare-and-swap, removed once
    the checkouts were told): what a rerun finds after a crash in between (recover_batch)."""
    return lander.layout.state_dir(lander.tid) / "integrate.batch.json"


def recover_batch(ctx: StepContext, branch: str) -> None:
    """What a batch interrupted between its compare-and-swap and telling the checkouts left
    undone: when the branch holds what it built, the local branch follows (land_on: remote)
    and its checkouts are told of the move since the batch's record; its members' landings are
    found by their intents (each lands exactly once). Every batch record is then removed."""
    root = ctx.layout.logs / "state"
    records = sorted(root.glob("*/integrate.batch.json")) if root.is_dir() else []
    if not records:
        return
    target = BranchTarget(ctx, branch)
    tip = target.tip()
    for path in records:
        try:
            data = read_json(path)
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("branch") == branch:
            built = str(data.get("built") or "")
            landed = bool(built) and succeeds(
                target.repo, "merge-base", "--is-ancestor", built, tip
            )
            if landed:
                ctx.log(
                    "orchestrator",
                    logging.WARNING,
                    f"a batch landed as {built[:12]} was interrupted: finishing it",
                    operation="integrate",
                    members=sorted(data.get("members") or {}),
                )
                tell_moved(ctx, target, tip, str(data.get("checkout_from") or ""))
        path.unlink(missing_ok=True)


def _intends(intent: Path, approved: str) -> bool:
    try:
        data = read_json(intent)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("approved") == approved
