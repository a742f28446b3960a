"""`hatchdoit ci --shared` (and `--shard K/N` with a remote): this runner's share of a build
that several CI runners run together through the git remote (shared/runner.py; docs/ci.md
"Several runners, one build"). The exit codes are `hatchdoit ci`'s (cli/ci_loop.py), with 4
also when what is left waits on another runner (`awaiting runner`)."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from hatchdoit.core.errors import EXIT_CONFIG, EXIT_FAILED, HatchdoitError
from hatchdoit.delivery.landing_fence import FENCE_ENV
from hatchdoit.observe.notify import CI_ENV
from hatchdoit.project import Project
from hatchdoit.provider_runs.pause import CI_MAX_WAIT
from hatchdoit.shared.runner import INTERRUPTED, SharedResult, SharedRunner, remote_of
from hatchdoit.shared.snapshot_rules import KEY_ENV, shared_key

if TYPE_CHECKING:
    from hatchdoit.cli.ci_loop import CiOptions

LAND_ON = "HATCHDOIT_LAND_ON"  # the merge queue lands on the remote's integration branch


def run_shared(
    project: Project,
    options: CiOptions,
    selected: list[str],
    closure: list[str],
    say: Callable[[str], None],
) -> int | None:
    """The build of `selected` shared through the remote; None when `--shard` finds no
    remote to share (then `hatchdoit ci` builds as it does without one)."""
    from hatchdoit.cli.ci_loop import _conclude, _doit_argv, _finished, _provider_hold

    remote = remote_of(project)
    why = remote.unreachable()
    if why is not None:
        if options.shared:
            say(f"hatchdoit ci --shared: {why} (fix: set integration.remote to a remote every "
                "runner can fetch from and push to)")  # fmt: skip
            return EXIT_CONFIG
        say(f"hatchdoit ci: --shard without a shared remote ({why}): the dependencies of this "
            "shard's TaskSpecs are built here too")  # fmt: skip
        return None
    if not options.shared and (why := remote.cannot_push()) is not None:
        say(f"hatchdoit ci: --shard cannot push to {remote.name} ({why}): the dependencies of "
            "this shard's TaskSpecs are built here too")  # fmt: skip
        return None
    step = "integrate" if project.config.integrate != "none" else "taskspec"
    env = {
        **os.environ,
        CI_ENV: "1",
        CI_MAX_WAIT: str(project.config.providers.ci_max_wait),
        FENCE_ENV: "1",  # a landing is fenced by this runner's claim (landing_fence.py)
    }
    if options.shared:  # merge modes land on the remote's branch, not on this runner's clone
        env[LAND_ON] = "remote"

    def build(tids: list[str], abandon: threading.Event) -> int:
        argv = _doit_argv(options, [f"{step}:{tid}" for tid in tids])
        child = subprocess.Popen(argv, cwd=project.root, env=env)
        ended = threading.Event()

        def stop_when_abandoned() -> None:  # the claims were lost: another runner builds it
            while not ended.is_set():
                if abandon.wait(1.0) and child.poll() is None:
                    child.terminate()  # doit's interrupt handling ends its steps
                    return

        watcher = threading.Thread(target=stop_when_abandoned, daemon=True)
        watcher.start()
        try:
            return child.wait()
        finally:
            ended.set()

    if shared_key() is None:
        say(f"hatchdoit ci: {KEY_ENV} is not set: the records on {remote.name} are trusted like "
            "push rights to it (docs/ci.md \"Who can forge the shared state\")")  # fmt: skip
    runner = SharedRunner(
        project, selected, build, say, options.runner, options.max_runs, slots=options.jobs
    )
    say(f"hatchdoit ci: runner {runner.claims.runner} shares the build through "
        f"{remote.name}, leases of {project.config.shared.lease_seconds:g}s")  # fmt: skip
    try:
        result = runner.run()
    except HatchdoitError as exc:  # the remote is gone: the run still ends with its reports
        if not options.shared and not runner.claims.renewed:  # --shard: its first claim
            say(f"hatchdoit ci: --shard cannot share through {remote.name} ({exc.one_line()}): "
                "the dependencies of this shard's TaskSpecs are built here too")  # fmt: skip
            return None
        say(f"hatchdoit ci: {exc.one_line()}")
        result = SharedResult(code=EXIT_FAILED)
    if result.code in INTERRUPTED:
        return result.code
    project.refresh()
    code = result.code or _provider_hold(project, closure, say)
    status, _ = _finished(project, closure)
    return _conclude(project, options, selected, status, code, say)
