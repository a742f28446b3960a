"""Measure: the time confinement adds to one agent launch and to one test run (target <= 150 ms
each), against the same command run unconfined.

A test run is `confined_command` (confinement/wrap.py: its temp dir, then bubblewrap with srt's
seccomp helper, as `test_network: none` runs) around `true`, as run/test_runs.py runs a test
command; an agent launch is srt with an agent's policy
(its workspace, outputs, config home, a provider's hosts and a local base URL through the proxy)
around `true`, as launch_agent.sh runs the agent. What is measured is the sandbox's start and
end: the work inside is nothing, so the difference is what confinement costs per run.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.fixtures import Sandbox
from bench.results import Row, Section, median, ms, summary
from bench.sizes import Sizes
from hatchdoit.config.models import ConfinementConfig
from hatchdoit.confinement.availability import check
from hatchdoit.confinement.mode import Decision
from hatchdoit.confinement.policy import agent_policy
from hatchdoit.confinement.srt import confined_argv, write_settings
from hatchdoit.confinement.wrap import confined_command

TARGET = 0.150
CONFINED = Decision("auto", True, "bench")


def _time(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=True)
    return time.perf_counter() - started


def _test_run(workspace: Path, config: ConfinementConfig) -> float:
    started = time.perf_counter()
    with confined_command(["true"], workspace, config, decision=CONFINED) as run:
        subprocess.run(run.argv, cwd=workspace, stdin=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _agent_argv(root: Path, workspace: Path, config: ConfinementConfig) -> list[str]:
    policy = agent_policy(
        config, workspace=workspace, output_dir=root / "out", temp_dir=root / "run" / "tmp",
        config_home=root / "run", provider="anthropic",
        env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, sessions_root=root,
    )  # fmt: skip
    settings = write_settings(policy, root / "agent-srt.json")
    return confined_argv(["true"], policy, settings, {"TMPDIR": str(policy.temp_dir)})


def _row(key: str, measure: str, confined: list[float], plain: list[float], how: str) -> Row:
    added = median(confined) - median(plain)
    return Row(
        key=key,
        measure=measure,
        hatchdoit=f"+{ms(added)} (confined p50 {ms(median(confined))})",
        baseline=f"unconfined p50 {ms(median(plain))}",
        comparison=f"{median(confined) / max(median(plain), 1e-9):.0f}x",
        target=f"<= {ms(TARGET)} added",
        met=added <= TARGET,
        note=how,
    )


def run(sandbox: Sandbox, sizes: Sizes) -> Section:
    found = check()
    if not found.available:  # a finding about the machine, not a failed measure
        note = f"confinement unavailable here: {found.reason} (fix: {found.fix})"
        rows = [
            Row(key, measure, "unavailable", "-", "-", f"<= {ms(TARGET)} added", None, note)
            for key, measure in (
                ("confinement_test_run", "one test run confined"),
                ("confinement_agent_launch", "one agent launch confined"),
            )
        ]
        return Section(name="confinement", rows=rows, data={"unavailable": found.reason})
    root = sandbox.root / "confinement"
    workspace = root / "ws"
    workspace.mkdir(parents=True)
    config = ConfinementConfig()
    n = max(3, sizes.repeats * 4)
    plain = [_time(["true"], workspace) for _ in range(n)]
    tests = [_test_run(workspace, config) for _ in range(n)]
    argv = _agent_argv(root, workspace, config)
    agents = [_time(argv, workspace) for _ in range(n)]
    return Section(
        name="confinement",
        rows=[
            _row(
                "confinement_test_run",
                f"one test run confined ({n} runs)",
                tests,
                plain,
                "bubblewrap and srt's seccomp helper (test_network none)",
            ),
            _row(
                "confinement_agent_launch",
                f"one agent launch confined ({n})",
                agents,
                plain,
                "srt: node start, its proxy for the provider's hosts, bubblewrap, seccomp helper",
            ),
        ],
        data={"plain": summary(plain), "test_run": summary(tests), "agent": summary(agents)},
    )
