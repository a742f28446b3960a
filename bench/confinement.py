"""Measure: the time confinement adds to one agent launch and to one test run (target <= 150 ms
each), against the same command run unconfined.

A test run is `confined_command` (confinement/wrap.py: its temp dir, then bubblewrap with srt's
seccomp helper, as `test_network: none` runs) around `true`, as run/test_runs.py runs a test
command; an agent launch is an agent's policy (its workspace, outputs, config home, a provider's
hosts and a local base URL through the proxy) around `true`, as launch_agent.sh runs the agent:
on Linux bubblewrap directly with the launcher's own filtering proxy (confinement/direct.py,
launch.py), elsewhere srt. The workspace is a git repository, so the scrubbed `.git/config` is
bound too. What is measured is the sandbox's start and end: the work inside is nothing, so the
difference is what confinement costs per run.

The breakdown (rows without a target): the launcher's Python start, node's own start, srt's
start (node and its modules: `srt --version`), srt around `true` with no host, an agent launch
under srt as before (and as where the direct way cannot be had), and the bubblewrap that binds
the scrubbed `.git/config` around srt.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.fixtures import Sandbox
from bench.results import Row, Section, median, ms, summary
from bench.sizes import Sizes
from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.availability import check
from hatchdoit.confinement.direct import agent_prefix
from hatchdoit.confinement.gitconfig import scrub_prefix
from hatchdoit.confinement.mode import Decision
from hatchdoit.confinement.policy import Policy, agent_policy, git_config_of
from hatchdoit.confinement.srt import confined_argv, srt_binary, write_settings
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


def _agent_argvs(root: Path, workspace: Path, config: ConfinementConfig) -> dict[str, list[str]]:
    """An agent launch's argv as agent_confinement builds it: the direct way and srt's."""
    sessions = root / "sessions"
    policy = agent_policy(
        config, workspace=workspace, output_dir=root / "out", temp_dir=sessions / "run" / "tmp",
        config_home=sessions / "run", provider="anthropic",
        env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, sessions_root=sessions,
    )  # fmt: skip
    inside = {"TMPDIR": str(policy.temp_dir)}
    settings = write_settings(policy, root / "agent-srt.json")
    scrub = scrub_prefix(git_config_of(workspace), root / "agent-gitconfig")
    srt = [*scrub, *confined_argv(["true"], policy, settings, inside)]
    direct = agent_prefix(policy, inside, root / "agent-direct.json")
    argvs = {"agent": [*direct, "true"] if direct is not None else srt}
    if direct is not None:
        argvs["agent launch under srt (before; where the direct way cannot be had)"] = srt
    return argvs


def _parts(root: Path, workspace: Path) -> dict[str, list[str]]:
    """The argv of each part of an agent launch, timed on its own (see the module docstring)."""
    node = shutil.which("node")
    parts: dict[str, list[str]] = {}
    if node is not None:
        parts["node start (`node -e 0`)"] = [node, "-e", "0"]
    parts["the launcher's Python start (importing launch.py)"] = [
        sys.executable, "-c", "import hatchdoit.confinement.launch",
    ]  # fmt: skip
    parts["srt start (`srt --version`)"] = [str(srt_binary()), "--version"]
    bare = Policy(workspace=workspace, temp_dir=root / "bare" / "tmp")
    settings = write_settings(bare, root / "bare-srt.json")
    parts["srt around `true`, no host"] = confined_argv(["true"], bare, settings)
    scrub = scrub_prefix(git_config_of(workspace), root / "part-gitconfig")
    if scrub:
        parts["the bubblewrap binding the scrubbed .git/config around srt"] = [*scrub, "true"]
    return parts


def _part_row(index: int, name: str, times: list[float], plain: list[float]) -> Row:
    return Row(
        key=f"confinement_agent_part_{index}",
        measure=f"agent launch, part: {name}",
        hatchdoit=f"+{ms(median(times) - median(plain))} (p50 {ms(median(times))})",
        baseline=f"unconfined p50 {ms(median(plain))}",
        comparison="-",
        target="-",
        met=None,
        note="breakdown",
    )


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
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)  # an agent's is a worktree
    config = ConfinementConfig()
    n = max(3, sizes.repeats * 4)
    commands = {"plain": ["true"], **_agent_argvs(root, workspace, config)}
    commands.update(_parts(root, workspace))
    times: dict[str, list[float]] = {name: [] for name in commands}
    tests: list[float] = []
    for _ in range(n):  # round robin: the machine's load drifts alike over every command
        for name, argv in commands.items():
            times[name].append(_time(argv, workspace))
        tests.append(_test_run(workspace, config))
    plain, agents = times.pop("plain"), times.pop("agent")
    parts = times
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
                "bubblewrap directly, the launcher's Python and filtering proxy, a socat bridge, "
                "the seccomp helper, the scrubbed .git/config",
            ),
            *(_part_row(i, name, t, plain) for i, (name, t) in enumerate(parts.items(), 1)),
        ],
        data={
            "plain": summary(plain),
            "test_run": summary(tests),
            "agent": summary(agents),
            "agent_parts": {name: summary(t) for name, t in parts.items()},
        },
    )
