"""Step `checks` (attempt k): the orchestrator itself runs the TaskSpec's tests and counts LOC."""

from __future__ import annotations

import logging

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.delivery.commits import clean_to
from hatchdoit.records.models import ChecksRecord, LocCount, Receipt, TestRun
from hatchdoit.run.attempts import attempt_commit, base_commit, receipt
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import loc_between
from hatchdoit.run.test_runs import run_test_command
from hatchdoit.steps.workspace_setup import setup_on_commit


def _test_timeout(ctx: StepContext) -> float:
    return ctx.spec.test_timeout or ctx.project.config.limits.test_timeout


def run_tests(ctx: StepContext, attempt: int) -> TestRun:
    log_path = ctx.layout.checks_log(ctx.tid, attempt)
    return run_test_command(
        ctx.spec.test_command,
        ctx.worktree,
        _test_timeout(ctx),
        log_path,
        ctx.layout,
        ctx.project.config.checks.env_passthrough,
        ctx.project.config.workspace,
        confinement=ctx.project.config.confinement,
        target=ctx.project.target_repo,
    )


def run_checks(ctx: StepContext, attempt: int) -> Receipt:
    layout = ctx.layout
    path = layout.checks(ctx.tid, attempt)
    factory = receipt(ctx, "factory", attempt)
    commit = attempt_commit(ctx, attempt)
    if (
        factory is None
        or factory.outcome == "failed"
        or commit is None
        or not ctx.worktree.is_dir()
    ):
        why = "the factory attempt failed" if ctx.worktree.is_dir() else "the worktree is missing"
        record = ChecksRecord(
            taskspec_id=ctx.tid,
            attempt=attempt,
            tests=None,
            loc=None,
            passed=False,
            failures=[f"not run: {why}"],
        )
    else:
        # The commit, measured before the tests run (what they leave behind never counts) and
        # tested as committed: what an earlier, interrupted test run left is removed first.
        clean_to(ctx, commit, "before the checks")
        base = base_commit(ctx, attempt)
        diff = loc_between(ctx.worktree, base, commit)
        loc = LocCount(
            base_commit=base,
            commit=commit,
            added=diff.added,
            removed=diff.removed,
            cap=ctx.spec.loc_cap,
            files=diff.files,
        )
        # the commit may have changed what the setup reads (a new dependency): set up again
        setup_failure = setup_on_commit(ctx, attempt)
        tests = run_tests(ctx, attempt) if setup_failure is None else None
        fault_point("checks.after_tests", ctx.tid)
        by_products = clean_to(ctx, commit, "after the checks")
        failures = []
        if tests is None:
            failures.append(f"{setup_failure}: the attempt's commit changed what it reads")
        elif tests.timed_out:
            failures.append(f"tests timed out: no result within {_test_timeout(ctx):.0f}s")
        elif tests.exit_code != 0:
            counted = f", {tests.failed} failed" if tests.failed is not None else ""
            failures.append(f"tests failed (exit {tests.exit_code}{counted}): see {tests.log}")
        if loc.added > loc.cap:
            failures.append(f"LOC cap exceeded: {loc.added} lines added, cap {loc.cap}")
        record = ChecksRecord(
            taskspec_id=ctx.tid,
            attempt=attempt,
            commit=commit,
            tests=tests,
            loc=loc,
            passed=not failures,
            failures=failures,
            by_products=by_products,
        )
    write_json_atomic(path, record.model_dump(mode="json"))
    ctx.log(
        "qa",
        logging.INFO if record.passed else logging.WARNING,
        "checks passed" if record.passed else "checks failed",
        attempt=attempt,
        operation="checks",
        failures=record.failures,
    )
    return ctx.write_receipt(
        "checks",
        attempt,
        "ok" if record.passed else "failed",
        artifact=path,
        reasons=record.failures,
    )
