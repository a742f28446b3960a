"""Step `setup`: `workspace.setup`'s argv commands, run in a TaskSpec's worktree once it is made,
and again only when their inputs change.

The inputs are the commands and the contents of the worktree's files matching
`workspace.setup_inputs` (at any depth, so a monorepo's packages count). A worktree that is set
up for its inputs carries their digest in a marker in its own git directory (which goes with the
worktree): a recreated worktree has none and is set up again. The digest changes when a
dependency's merged work changed a lockfile (the dependent's worktree is remade) and when an
attempt's own commit changed it (the checks set it up again on that commit before the tests).

A setup that fails is not an agent's fault: the `setup` step fails with one line naming the
command, its exit code and its log, nothing counts as an attempt, `setup.json` records it
(`hatchdoit status`: setup failed), and the next `doit` tries again. A setup killed midway
leaves its marker pending: the rerun does it again. On an attempt's commit, though, the setup's
inputs are the agent's work: a failure there is a failed check of that attempt, and the step
`setup` does not take it up again.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import shlex
import time
from pathlib import Path

from hatchdoit.config.workspace_models import ConfinementConfig, WorkspaceConfig
from hatchdoit.confinement.wrap import confined_command
from hatchdoit.core.atomicio import write_atomic, write_json_atomic
from hatchdoit.core.errors import EXIT_SETUP, StepError
from hatchdoit.core.redaction import redact_file
from hatchdoit.layout import Layout
from hatchdoit.records.models import Receipt, TestRun
from hatchdoit.records.receipts import current_receipt, write_receipt
from hatchdoit.records.schemas import try_load
from hatchdoit.records.setup_record import SetupRecord
from hatchdoit.steps.attempts import first_attempt, receipt
from hatchdoit.steps.context import StepContext
from hatchdoit.steps.gitops import git
from hatchdoit.steps.test_runs import run_into_log, test_env
from hatchdoit.steps.workspace_files import workspace_environ

MARKER = "hatchdoit-setup"  # in the worktree's git directory: the digest it was set up for
PENDING, FAILED = "pending", "failed"  # or: a setup was cut short, or failed
STEP = "setup"
# What the setup gets beyond a test command's environment: the package managers' own settings
# (an index, a mirror, offline mode, a registry's login), the setup's and never an agent's.
SETUP_ENV = (
    "PIP_*", "UV_*", "NPM_CONFIG_*", "npm_config_*", "YARN_*", "PNPM_*", "COREPACK_*",
    "GOPROXY", "GOPRIVATE", "GONOSUMDB", "GOFLAGS", "CARGO_HOME", "CARGO_NET_*",
    "CARGO_REGISTRIES_*",
)  # fmt: skip


class SetupFailed(StepError):
    """A workspace's setup failed: the TaskSpec stops, with no attempt counted."""

    exit_code = EXIT_SETUP


def setup_log(layout: Layout, tid: str, attempt: int) -> Path:
    return layout.logs / "setup" / f"{tid}-{attempt:03d}.log"


def setup_record(layout: Layout, tid: str) -> Path:
    return layout.state_dir(tid) / "setup.json"


def _matches(rel: str, globs: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, g) or fnmatch.fnmatchcase(rel, g) for g in globs)


def input_digest(ws: WorkspaceConfig, worktree: Path) -> str:
    """The setup commands and the contents of the tracked files matching `setup_inputs`."""
    inputs: dict[str, str] = {}
    for rel in git(worktree, "ls-files", "-z").split("\0"):
        if rel and _matches(rel, ws.setup_inputs):
            try:
                inputs[rel] = hashlib.sha256((worktree / rel).read_bytes()).hexdigest()
            except OSError:
                inputs[rel] = "missing"
    text = json.dumps({"commands": ws.setup, "inputs": inputs}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _marker(worktree: Path) -> Path:
    """The marker's place: the worktree's own git directory (`.git` is a file naming it in a
    linked worktree)."""
    dot_git = worktree / ".git"
    if dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text.partition(":")[2].strip())
            return (gitdir if gitdir.is_absolute() else worktree / gitdir) / MARKER
    return dot_git / MARKER


def marked(worktree: Path) -> str | None:
    """The digest the worktree was last set up for (PENDING or FAILED when its last setup was
    cut short or failed), None if it was never set up."""
    try:
        return _marker(worktree).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def setup_is_current(ctx: StepContext) -> bool:
    """doit `uptodate` of `setup:<ID>`: no setup configured, no worktree (the step that makes
    one sets it up), or the worktree set up for its current inputs with a receipt saying so.
    Once the first attempt ran for the current inputs, what changed the inputs since is the
    attempts' work: the checks set the worktree up again on each attempt's commit (a setup
    failing there is the attempt's failed check), so this step does not run again for it."""
    ws = ctx.project.config.workspace
    if not ws.setup or not ctx.worktree.is_dir():
        return True
    found = marked(ctx.worktree)
    if found is None:  # this worktree was never set up
        return False
    try:
        digest = input_digest(ws, ctx.worktree)
    except StepError:  # not a working git worktree: the step says so when it runs
        return False
    if found == digest:
        return current_receipt(ctx.layout, ctx.tid, STEP, 0, digest) is not None
    return receipt(ctx, "factory", first_attempt(ctx)) is not None


def run_commands(
    ws: WorkspaceConfig,
    worktree: Path,
    log_path: Path,
    passthrough: list[str],
    confinement: ConfinementConfig | None = None,
) -> tuple[list[TestRun], str | None]:
    """Run the setup commands in `worktree`, in order, within `setup_timeout` together, their
    output into `log_path`: the runs and, if one failed, the line saying which and how. Each
    runs under the build's `confinement` (writing its worktree and temp dir, reaching the
    package registries); None: unconfined, not recorded."""
    confinement_config = confinement or ConfinementConfig(mode="off")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(log_path, "")
    deadline = time.monotonic() + ws.setup_timeout
    runs: list[TestRun] = []
    failure = None
    try:
        for command in ws.setup:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"$ {shlex.join(command)}\n")
            # the environment again for each command: the first may have made the venv
            env = workspace_environ(ws, worktree, test_env([*SETUP_ENV, *passthrough]))
            started = time.monotonic()
            left = max(0.001, deadline - started)
            with confined_command(
                command, worktree, confinement_config, network="registries"
            ) as run:
                code = run_into_log(run.argv, worktree, left, log_path, {**env, **run.env}, "a")
            runs.append(
                TestRun(
                    command=command,
                    exit_code=code,
                    duration_s=round(time.monotonic() - started, 3),
                    timed_out=code is None,
                    log=str(log_path),
                    confinement=run.label if confinement is not None else None,
                )
            )
            if code is None:
                failure = f"`{shlex.join(command)}` timed out (workspace.setup_timeout "
                failure += f"{ws.setup_timeout:g}s)"
                break
            if code != 0:
                failure = f"`{shlex.join(command)}` exited {code}"
                break
    finally:
        redact_file(log_path)
    return runs, failure


def set_up(ctx: StepContext, attempt: int, digest: str) -> SetupRecord:
    """Run the setup in the TaskSpec's worktree and record it (setup.json; with the receipt and
    the worktree's marker when it passed)."""
    ws, layout = ctx.project.config.workspace, ctx.layout
    write_atomic(_marker(ctx.worktree), PENDING)  # a setup cut short leaves it so
    log_path = setup_log(layout, ctx.tid, attempt)
    ctx.audit("setup_start", attempt=attempt, digest=digest)
    passthrough = ctx.project.config.checks.env_passthrough
    runs, failure = run_commands(
        ws, ctx.worktree, log_path, passthrough, ctx.project.config.confinement
    )
    for run in runs:
        run.log = layout.rel(log_path)
    where = layout.rel(log_path)
    record = SetupRecord(
        taskspec_id=ctx.tid,
        attempt=attempt,
        digest=digest,
        runs=runs,
        passed=failure is None,
        failure=f"setup failed: {failure} (log: {where})" if failure else None,
        log=where,
    )
    path = setup_record(layout, ctx.tid)
    write_json_atomic(path, record.model_dump(mode="json"))
    ctx.audit("setup_end", attempt=attempt, passed=record.passed, failure=record.failure)
    ctx.log(
        "orchestrator",
        logging.INFO if record.passed else logging.ERROR,
        "workspace set up" if record.passed else str(record.failure),
        attempt=attempt,
        operation="setup",
        log=where,
    )
    write_atomic(_marker(ctx.worktree), (digest if record.passed else FAILED) + "\n")
    if record.passed:
        write_receipt(
            layout, ctx.tid, STEP, 0, digest=digest, outcome="ok", artifact=path,
            data={"attempt": attempt},
        )  # fmt: skip
    return record


def ensure_set_up(ctx: StepContext) -> Receipt | None:
    """Set the worktree up unless it is for its current inputs; SetupFailed when it fails."""
    ws = ctx.project.config.workspace
    if not ws.setup:
        return None
    digest = input_digest(ws, ctx.worktree)
    if marked(ctx.worktree) == digest:
        return current_receipt(ctx.layout, ctx.tid, STEP, 0, digest)
    record = set_up(ctx, 0, digest)
    if record.failure is not None:
        raise SetupFailed(
            record.failure,
            taskspec_id=ctx.tid,
            operation="setup",
            fix="fix workspace.setup or the project's dependencies (the log says what failed), "
            "then rerun doit; no attempt was counted",
        )
    return current_receipt(ctx.layout, ctx.tid, STEP, 0, digest)


def run_setup(ctx: StepContext, attempt: int = 0) -> Receipt | None:
    """Step `setup`: the worktree set up for its inputs (see the module's docstring)."""
    if not ctx.worktree.is_dir():
        return None
    return ensure_set_up(ctx)


def setup_on_commit(ctx: StepContext, attempt: int) -> str | None:
    """Before attempt k's checks, on its commit: set up again if the commit changed the setup's
    inputs. Returns the failure line (a failed check of the attempt), None when set up."""
    ws = ctx.project.config.workspace
    if not ws.setup:
        return None
    digest = input_digest(ws, ctx.worktree)
    if marked(ctx.worktree) == digest:
        return None
    return set_up(ctx, attempt, digest).failure


def setup_failed(layout: Layout, tid: str) -> str | None:
    """The line of a workspace setup that failed and has not passed since (status shows it)."""
    record = try_load(setup_record(layout, tid), SetupRecord)
    if record is None or record.passed or record.attempt != 0:
        return None
    return record.failure


def set_up_integration(ctx: StepContext, worktree: Path, log_path: Path) -> None:
    """Before the post-merge tests: set hatchdoit's integration worktree up for the merged
    tree's inputs (once per change of them). SetupFailed when it fails: not the agent's fault."""
    ws = ctx.project.config.workspace
    if not ws.setup:
        return
    digest = input_digest(ws, worktree)
    if marked(worktree) == digest:
        return
    _marker(worktree).unlink(missing_ok=True)
    config = ctx.project.config
    _, failure = run_commands(
        ws, worktree, log_path, config.checks.env_passthrough, config.confinement
    )
    if failure is not None:
        raise SetupFailed(
            f"setup of the integration worktree failed: {failure} "
            f"(log: {ctx.layout.rel(log_path)})",
            taskspec_id=ctx.tid,
            operation="setup",
            fix="fix workspace.setup or the merged dependencies, then rerun doit",
        )
    write_atomic(_marker(worktree), digest + "\n")
