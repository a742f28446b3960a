"""Step `checks` (attempt k): the orchestrator itself runs the TaskSpec's tests and counts LOC."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from pathlib import Path

from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.core.redaction import redact_file
from hatchdoit.core.testing_faults import fault_point
from hatchdoit.records.models import ChecksRecord, LocCount, Receipt, TestRun, WorktreeRecord
from hatchdoit.records.schemas import load_valid
from hatchdoit.steps.attempts import receipt
from hatchdoit.steps.context import StepContext
from hatchdoit.steps.gitops import loc_added

_PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors)\b")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests?", re.MULTILINE)
_UNITTEST_FAILED = re.compile(r"^FAILED \((.*)\)", re.MULTILINE)


def count_tests(output: str) -> tuple[int | None, int | None]:
    """(passed, failed) from pytest's or unittest's closing lines; None where not found."""
    ran = _UNITTEST_RAN.findall(output)
    if ran:
        total = int(ran[-1])
        failed = 0
        bad = _UNITTEST_FAILED.findall(output)
        if bad:
            failed = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d+)", bad[-1]))
        return total - failed, failed
    counts: dict[str, int] = {}
    for number, word in _PYTEST_COUNTS.findall(output):
        key = "passed" if word == "passed" else "failed"
        counts[key] = counts.get(key, 0) + int(number)
    if counts:
        return counts.get("passed", 0), counts.get("failed", 0)
    return None, None


def _test_timeout(ctx: StepContext) -> float:
    return ctx.spec.test_timeout or ctx.project.config.limits.test_timeout


def _run_into_log(command: list[str], cwd: Path, timeout: float, log_path: Path) -> int | None:
    """Run `command` with stdout and stderr into `log_path`; its exit code, None on timeout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATCHDOIT_")}
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            done = subprocess.run(
                command,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
        except OSError as exc:
            log.write(f"hatchdoit: cannot run {command[0]}: {exc}\n")
            return 127
    return done.returncode


def run_tests(ctx: StepContext, attempt: int) -> TestRun:
    spec = ctx.spec
    log_path = ctx.layout.checks_log(ctx.tid, attempt)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        exit_code = _run_into_log(spec.test_command, ctx.worktree, _test_timeout(ctx), log_path)
    finally:  # the tests run with the real environment and may print its secrets
        redact_file(log_path)
    passed, failed = count_tests(log_path.read_text(encoding="utf-8", errors="replace"))
    return TestRun(
        command=spec.test_command,
        exit_code=exit_code,
        passed=passed,
        failed=failed,
        duration_s=round(time.monotonic() - started, 3),
        timed_out=exit_code is None,
        log=ctx.layout.rel(log_path),
    )


def run_checks(ctx: StepContext, attempt: int) -> Receipt:
    layout = ctx.layout
    path = layout.checks(ctx.tid, attempt)
    factory = receipt(ctx, "factory", attempt)
    if factory is None or factory.outcome == "failed" or not ctx.worktree.is_dir():
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
        tests = run_tests(ctx, attempt)
        fault_point("checks.after_tests", ctx.tid)
        base = load_valid(layout.worktree_record(ctx.tid), WorktreeRecord).base_commit
        diff = loc_added(ctx.worktree, base)
        loc = LocCount(
            base_commit=base,
            added=diff.added,
            removed=diff.removed,
            cap=ctx.spec.loc_cap,
            files=diff.files,
        )
        failures = []
        if tests.timed_out:
            failures.append(f"tests timed out: no result within {_test_timeout(ctx):.0f}s")
        elif tests.exit_code != 0:
            failures.append(
                f"tests failed (exit {tests.exit_code}, {tests.failed} failed): see {tests.log}"
            )
        if loc.added > loc.cap:
            failures.append(f"LOC cap exceeded: {loc.added} lines added, cap {loc.cap}")
        record = ChecksRecord(
            taskspec_id=ctx.tid,
            attempt=attempt,
            tests=tests,
            loc=loc,
            passed=not failures,
            failures=failures,
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
