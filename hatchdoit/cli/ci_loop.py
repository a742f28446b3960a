"""`hatchdoit ci`: rerun `doit` until nothing is left to run or what is left is escalated.

Exit codes: 0 every selected TaskSpec is done (delivered, when delivery is on); 1 some
escalated, are blocked by one that did, or failed without progress; 2 configuration or planning
errors (found before anything runs, with `hatchdoit validate`'s checks); 4 nothing failed, and
some wait (records/waiting.py: for a person's review, a pull request's merge; listed, then run
it again);
5 a provider refused the credentials or the billing (one line each, with the fix; nothing was
escalated or counted); 6 a provider paused the build for longer than `providers.ci_max_wait`
(the resume time is printed: run it again after it); 7 a TaskSpec's workspace setup failed
(`workspace.setup`; one line each with its log; no attempt counted); 130/143 interrupted.
`--shard k/n` builds a stable subset (by a hash of each TaskSpec id; doit brings the
dependencies of a selected TaskSpec along).

Every run ends by writing JUnit XML (`_logs/junit.xml` unless `--junit PATH`), the HTML report,
metrics and the state file, so a CI system always has test results to show.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hatchdoit.cli.validation import validate_project
from hatchdoit.confinement.mode import decide
from hatchdoit.core.errors import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PAUSED,
    EXIT_PROVIDER,
    EXIT_SETUP,
    EXIT_WAITING,
    ConfigError,
)
from hatchdoit.observe.junit import write_junit
from hatchdoit.observe.metrics import write_metrics
from hatchdoit.observe.notify import CI_ENV, deliver_pending, notify_build_failed
from hatchdoit.observe.outcomes import task_details
from hatchdoit.observe.progress import taskspec_progress
from hatchdoit.observe.report import write_report
from hatchdoit.observe.state import update_state
from hatchdoit.observe.timeline import step_runs
from hatchdoit.project import Project
from hatchdoit.provider_runs.gate import states
from hatchdoit.provider_runs.pause import CI_MAX_WAIT
from hatchdoit.records.audit import read_audit
from hatchdoit.records.models import PausedRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.records.waiting import KINDS, WAITING_STATES, waiting_of, waiting_state

DOIT_USAGE_ERROR = 3  # doit: the command line or dodo.py is wrong


def parse_shard(text: str) -> tuple[int, int]:
    """`k/n` with 1 <= k <= n."""
    k_text, sep, n_text = text.partition("/")
    if not sep or not k_text.isdigit() or not n_text.isdigit():
        raise ConfigError(f"--shard {text!r} is not k/n", fix="write e.g. --shard 2/4")
    k, n = int(k_text), int(n_text)
    if not 1 <= k <= n:
        raise ConfigError(f"--shard {text}: k must be 1..{n}", fix="shards are numbered from 1")
    return k, n


def shard_index(tid: str, n: int) -> int:
    """0-based shard of a TaskSpec id: stable across machines, Python versions and plan edits."""
    return int.from_bytes(hashlib.sha256(tid.encode("utf-8")).digest()[:8], "big") % n


def select_shard(tids: list[str], k: int, n: int) -> list[str]:
    return [tid for tid in tids if shard_index(tid, n) == k - 1]


def with_dependencies(project: Project, tids: list[str]) -> list[str]:
    """`tids` and everything they depend on, in the plan's dependency order."""
    wanted: set[str] = set()
    stack = list(tids)
    while stack:
        tid = stack.pop()
        if tid not in wanted:
            wanted.add(tid)
            stack += project.taskspec(tid).depends_on
    return [tid for tid in project.plan.taskspecs if tid in wanted]


def _blocked_by_waiting(project: Project, tid: str, status: dict[str, str]) -> bool:
    """Whether `tid` waits (records/waiting.py), or only for dependencies that do."""
    if status.get(tid) in WAITING_STATES:
        return True
    deps = project.taskspec(tid).depends_on
    return (
        status.get(tid) in ("pending", "active")
        and bool(deps)
        and all(status.get(d) == "done" or _blocked_by_waiting(project, d, status) for d in deps)
    )


JUNIT_FILE = "junit.xml"  # under _logs/, where the workflow's artifact upload finds it


@dataclass
class CiOptions:
    shard: tuple[int, int] | None = None
    jobs: int = 0
    junit: Path | None = None  # None: _logs/junit.xml
    report: Path | None = None  # None: _logs/report.html
    max_runs: int = 5
    doit_args: list[str] = field(default_factory=list)
    shared: bool = False  # runners share the build through the remote (cli/ci_shared.py)
    runner: str | None = None  # this runner's name on its claims (default host-pid-random)


def _doit_argv(options: CiOptions, targets: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "doit", "run", "--continue"]
    if options.jobs:
        argv += ["-n", str(options.jobs)]
    return [*argv, *options.doit_args, *targets]


def _finished(
    project: Project, tids: list[str], recheck: bool = False
) -> tuple[dict[str, str], bool]:
    """(status per TaskSpec, whether nothing more can happen): every TaskSpec is done, or
    escalated, or waits (records/waiting.py), or depends on one that is escalated or waits.
    `recheck` (before the first doit run): a wait on what happens elsewhere (a pull request
    merged on GitHub) is not taken as it was recorded; a doit run looks again."""
    project.refresh()  # a doit run wrote records since this process last read them
    status = {tid: _status(taskspec_progress(project, tid)) for tid in tids}
    stale = {kind.state for kind in KINDS.values() if kind.elsewhere} if recheck else set()
    stuck: set[str] = set()
    for tid in tids:  # dependency order: dependencies are decided first
        deps = project.taskspec(tid).depends_on
        waits = status[tid] in WAITING_STATES and status[tid] not in stale
        decided = status[tid] in ("escalated", SETUP_FAILED) or waits
        if decided or (status[tid] != "done" and any(d in stuck for d in deps)):
            stuck.add(tid)
    return status, all(status[t] == "done" or t in stuck for t in tids)


SETUP_FAILED = "setup failed"  # not retried by the loop: the next `hatchdoit ci` tries again


def _status(progress: dict[str, object]) -> str:
    """The TaskSpec's status, `setup failed`, or the state of what it waits for (`awaiting
    review`, ...)."""
    if progress.get("setup_failed"):
        return SETUP_FAILED
    return waiting_state(progress) or str(progress["status"])


def run_ci(project: Project, options: CiOptions, say: Callable[[str], None] = print) -> int:
    """Validate, build until settled, then write state, metrics, report and JUnit."""
    validation = validate_project(project)
    problems = validation.problems
    for line in validation.warnings:
        print(f"warning: {line}", file=sys.stderr)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        say(f"hatchdoit ci: {len(problems)} configuration or planning problem(s); nothing built")
        return EXIT_CONFIG
    decide(project.config.confinement, ci=True)  # auto refuses to run agents unconfined in CI
    all_tids = list(project.plan.taskspecs)
    selected = select_shard(all_tids, *options.shard) if options.shard else all_tids
    closure = with_dependencies(project, selected)
    label = f"shard {options.shard[0]}/{options.shard[1]}" if options.shard else "all"
    say(
        f"hatchdoit ci: {label}: {len(selected)} of {len(all_tids)} TaskSpec(s)"
        + (
            f" (+{len(closure) - len(selected)} dependencies)"
            if len(closure) > len(selected)
            else ""
        )
    )
    if options.shared or options.shard:
        from hatchdoit.cli.ci_shared import run_shared

        shared = run_shared(project, options, selected, closure, say)
        if shared is not None:
            return shared
    code = EXIT_OK
    status, settled = _finished(project, closure, recheck=True)
    runs = 0
    previous: dict[str, object] | None = None
    while selected and not settled:  # settled: done, escalated, or blocked by an escalation
        if runs >= options.max_runs:
            say(f"hatchdoit ci: giving up after {runs} doit run(s)")
            break
        runs += 1
        step = "integrate" if project.config.integrate != "none" else "taskspec"
        targets = [f"{step}:{tid}" for tid in selected]
        env = {**os.environ, CI_ENV: "1", CI_MAX_WAIT: str(project.config.providers.ci_max_wait)}
        say(f"hatchdoit ci: doit run {runs}: {len(targets)} target(s)")
        done = subprocess.run(_doit_argv(options, targets), cwd=project.root, env=env, check=False)
        if done.returncode in (130, 143):
            return done.returncode
        if done.returncode == DOIT_USAGE_ERROR:
            say("hatchdoit ci: doit could not load the build (see above)")
            code = EXIT_CONFIG
            break
        project.refresh()
        held = _provider_hold(project, closure, say)
        if held:
            code = held
            status, settled = _finished(project, closure)
            break
        snapshot = {t: taskspec_progress(project, t) for t in closure}
        status, settled = _finished(project, closure)
        if settled:
            break
        if snapshot == previous:
            say("hatchdoit ci: the last doit run changed nothing; stopping")
            break
        previous = dict(snapshot)
    return _conclude(project, options, selected, status, code, say)


def _provider_hold(project: Project, tids: list[str], say: Callable[[str], None]) -> int:
    """EXIT_PROVIDER when a provider is stopped (auth, billing), EXIT_PAUSED when a TaskSpec
    waits on one past providers.ci_max_wait; each said in one line. 0: neither."""
    stopped = [s for s in states(project.layout) if s.state == "stopped"]
    for state in stopped:
        say(f"hatchdoit ci: provider {state.provider} stopped: {state.fault}: {state.message}"
            f" (fix: {state.fix})")  # fmt: skip
    if stopped:
        return EXIT_PROVIDER
    limit = project.config.providers.ci_max_wait
    now = datetime.now(UTC)
    late = []
    for tid in tids:
        paused = try_load(project.layout.paused(tid), PausedRecord)
        until = _utc(paused.resume_at) if paused is not None else None
        if paused is not None and until is not None and (until - now).total_seconds() > limit:
            late.append(paused)
            say(f"hatchdoit ci: {tid} paused ({paused.fault}, provider {paused.provider}) until "
                f"{paused.resume_at}: run hatchdoit ci again after that")  # fmt: skip
    return EXIT_PAUSED if late else 0


def _utc(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None


def _conclude(
    project: Project,
    options: CiOptions,
    selected: list[str],
    status: dict[str, str],
    code: int,
    say: Callable[[str], None],
) -> int:
    update_state(project)
    events = read_audit(project.layout.audit)
    write_metrics(project, events)
    report = write_report(project, options.report)
    details = task_details(project, step_runs(events))
    chosen = [details[t] for t in selected]
    junit = options.junit or project.layout.logs / JUNIT_FILE
    suite = "hatchdoit" + (f" shard {options.shard[0]}/{options.shard[1]}" if options.shard else "")
    write_junit(junit, chosen, project.root, suite)
    counts = {s: sum(1 for t in selected if status.get(t) == s) for s in set(status.values())}
    not_done = [t for t in selected if status.get(t) != "done"]
    say(
        "hatchdoit ci: "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + f" · report {project.layout.rel(report)} · junit {project.layout.rel(junit)}"
    )
    if code != EXIT_OK:
        return code
    if not not_done:
        return EXIT_OK
    deliver_pending(project)  # escalations whose send failed during the runs
    setup = [t for t in not_done if status.get(t) == SETUP_FAILED]
    for tid in setup:
        say(f"hatchdoit ci: {tid}: {details[tid].progress.get('setup_failed')}")
    if setup:
        return EXIT_SETUP
    waiting = [t for t in not_done if status.get(t) in WAITING_STATES]
    for tid in waiting:
        progress = details[tid].progress
        kind = waiting_of(progress)
        if kind is not None:
            say(f"hatchdoit ci: {kind.ci_line(tid, list(progress.get('waiting_on', [])))}")
    if waiting and all(_blocked_by_waiting(project, t, status) for t in not_done):
        return EXIT_WAITING
    failures = [
        {"taskspec_id": t, "status": status.get(t), "message": details[t].last_error() or ""}
        for t in not_done
    ]
    notify_build_failed(project, failures, counts)
    return EXIT_FAILED
