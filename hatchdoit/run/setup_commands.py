"""The setup's commands and its marker: `workspace.setup` run in a worktree, the digest of its
inputs, the marker in the worktree's own git directory that says what it was set up for, and the
integration worktree set up before the post-merge tests. The step `setup` (steps/workspace_setup.py)
and the merge queue (delivery/merge_queue.py) both use them."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shlex
import time
from pathlib import Path

from hatchdoit.config.workspace_models import ConfinementConfig, WorkspaceConfig
from hatchdoit.confinement.wrap import confined_command
from hatchdoit.core.atomicio import write_atomic
from hatchdoit.core.errors import EXIT_SETUP, StepError
from hatchdoit.core.redaction import redact_file
from hatchdoit.records.models import TestRun
from hatchdoit.run.context import StepContext
from hatchdoit.run.gitops import git
from hatchdoit.run.test_runs import run_into_log, test_env
from hatchdoit.run.workspace_files import workspace_environ

MARKER = "hatchdoit-setup"  # in the worktree's git directory: the digest it was set up for
PENDING, FAILED = "pending", "failed"  # or: a setup was cut short, or failed
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


def marker_path(worktree: Path) -> Path:
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
        return marker_path(worktree).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def run_commands(
    ws: WorkspaceConfig,
    worktree: Path,
    log_path: Path,
    passthrough: list[str],
    confinement: ConfinementConfig | None = None,
    target: Path | None = None,
) -> tuple[list[TestRun], str | None]:
    """Run the setup commands in `worktree`, in order, within `setup_timeout` together, their
    output into `log_path`: the runs and, if one failed, the line saying which and how. Each
    runs under the build's `confinement` (writing its worktree and temp dir, reaching the
    package registries); None: unconfined, not recorded. `target`: the target repo (its
    `.git/config` is hidden from them)."""
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
                command, worktree, confinement_config, network="registries", target=target
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


def set_up_integration(ctx: StepContext, worktree: Path, log_path: Path) -> None:
    """Before the post-merge tests: set hatchdoit's integration worktree up for the merged
    tree's inputs (once per change of them). SetupFailed when it fails: not the agent's fault."""
    ws = ctx.project.config.workspace
    if not ws.setup:
        return
    digest = input_digest(ws, worktree)
    if marked(worktree) == digest:
        return
    marker_path(worktree).unlink(missing_ok=True)
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
    write_atomic(marker_path(worktree), digest + "\n")
