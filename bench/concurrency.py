"""Measure 5: N TaskSpecs (16 in the full run) with `doit -n N`, N agent sessions at once.

Two builds of N TaskSpecs each, `limits.parallel_sessions: N`:

* held: the scripted agent works `hold` seconds before each stop (its stop hook is wrapped by
  bench's `hold_stop_hook.sh`, through a project-local `bench-hold` profile), so all N sessions
  are alive together. /proc is sampled every 100 ms: the RSS (and PSS) of every doit process,
  i.e. the main process and its forked workers; agents live under the tmux server and are not
  counted, nor are short-lived helpers (git, tmux clients, scripts), which are reported apart.
* zero-time: the bundled scripted agent as is; its throughput is the orchestrator's own.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from bench.audit_times import audit_summary
from bench.fixtures import HatchProject, Sandbox, doit_argv
from bench.memory import TreeSampler
from bench.results import Row, Section, mib, secs
from bench.sizes import Sizes
from hatchdoit.core.bundled import AGENTS as BUNDLED_AGENTS
from hatchdoit.layout import Layout
from hatchdoit.run.gitops import ensure_repo

TARGET_KIB_PER_SESSION = 25 * 1024
HOLD_HOOK = """#!/usr/bin/env bash
# bench: an agent that works a while. Wait BENCH_HOLD_SECONDS, then run the real stop hook.
set -euo pipefail
sleep "${BENCH_HOLD_SECONDS:?}"
exec "${BENCH_REAL_STOP_HOOK:?}" "$@"
"""


def own_agents(project: HatchProject) -> Path:
    """A project-local copy of the checkout's agents/: its path tells this run's agents apart
    from any other scripted agent on the machine."""
    agents = project.root / "agents"
    shutil.copytree(BUNDLED_AGENTS, agents)
    return agents


def add_hold_profile(agents: Path, hold: float) -> None:
    """A `bench-hold` profile beside `scripted`: the same agent, whose stop hook first waits
    `hold` seconds."""
    hook = agents / "bench" / "hold_stop_hook.sh"
    hook.parent.mkdir()
    hook.write_text(HOLD_HOOK, encoding="utf-8")
    hook.chmod(0o755)
    profile: dict[str, Any] = yaml.safe_load((agents / "scripted.yaml").read_text())
    profile["name"] = "bench-hold"
    profile["description"] = f"bench: the scripted agent, working {hold}s before each stop"
    profile["env"] = {
        **(profile.get("env") or {}),
        "HATCHDOIT_STOP_HOOK": "{agents_dir}/bench/hold_stop_hook.sh",
        "BENCH_REAL_STOP_HOOK": "{scripts_dir}/agent/stop_hook.sh",
        "BENCH_HOLD_SECONDS": str(hold),
    }
    (agents / "bench-hold.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")


def build(sandbox: Sandbox, name: str, n: int, hold: float | None) -> dict[str, Any]:
    """Build n one-module TaskSpecs with `doit -n n`; sample memory; return the figures."""
    project = sandbox.project(name)
    agents = own_agents(project)
    marker, profile = str(agents / "scripted" / "scripted_agent.py"), "scripted"
    if hold is not None:
        add_hold_profile(agents, hold)
        profile = "bench-hold"
    idle = max(60.0, 4 * (hold or 0))
    limits = {"wall_timeout": 600, "idle_timeout": idle, "ready_timeout": 60}
    project.configure(
        agents={"factory": profile, "qa": profile},
        limits={"parallel_sessions": n, "poll_interval": 0.5, "factory": limits, "qa": limits},
    )
    tids = [f"T{i:03d}-CONCURRENT" for i in range(n)]
    for tid in tids:
        project.add_taskspec(tid, test_command="true")
    ensure_repo(project.root / "_target", project.seed)
    out = project.root.parent / "doit.out"
    with out.open("w") as handle:
        started = time.perf_counter()
        proc = subprocess.Popen(
            doit_argv("-n", str(n)),
            cwd=project.root,
            env=project.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:  # doit's workers are forks of the main process: same command line
            with TreeSampler(proc.pid, marker=marker) as sampler:
                code = proc.wait(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
            sandbox.kill_server(project.socket)
        wall = time.perf_counter() - started
    layout = Layout(project.root)
    done = sum(1 for tid in tids if layout.done(tid).is_file())
    if code != 0 or done != n:
        tail = " | ".join(out.read_text(errors="replace").strip().splitlines()[-5:])
        raise RuntimeError(f"doit -n {n} exited {code}, {done}/{n} done: {tail}")
    return {
        "taskspecs": n,
        "hold_seconds": hold,
        "wall": wall,
        "done": done,
        "throughput_per_min": n / wall * 60,
        "doit": sampler.peak("root"),
        "helpers": sampler.peak("other"),
        **audit_summary(project.root),
    }


def bare_parallel(sandbox: Sandbox, n: int, hold: float) -> dict[str, Any]:
    """The floor: bare doit -n n with n tasks holding a worker each, sampled the same way."""
    where = sandbox.root / "bare-parallel"
    where.mkdir()
    shutil.copyfile(Path(__file__).with_name("bare_parallel_dodo.py"), where / "dodo.py")
    env = {**sandbox.env(), "BENCH_TASKS": str(n), "BENCH_HOLD": str(hold)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        doit_argv("-n", str(n)),
        cwd=where,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with TreeSampler(proc.pid) as sampler:
            code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    if code != 0:
        raise RuntimeError(f"bare doit -n {n} exited {code}")
    return {"wall": time.perf_counter() - started, "doit": sampler.peak("root")}


def run(sandbox: Sandbox, sizes: Sizes) -> Section:
    n = sizes.concurrent
    bare = bare_parallel(sandbox, n, max(sizes.hold, 1.0))
    held = build(sandbox, "concurrent-held", n, sizes.hold)
    zero = build(sandbox, "concurrent-zero", n, None)
    mem, floor = held["doit"], bare["doit"]
    # The verdict is on PSS: the doit workers are forked from one process and share most of
    # their pages with it and each other. RSS counts each shared page once per process (17
    # times here), PSS splits it among its sharers, so the PSS sum is the memory all doit
    # processes use together. Both are reported.
    per_session = mem["peak_pss_kib"] / n
    rss_per_session = mem["peak_rss_kib"] / n
    floor_pss = floor["peak_pss_kib"] / n
    floor_rss = floor["peak_rss_kib"] / n
    rows = [
        Row(
            key="concurrent",
            measure=(
                f"{n} concurrent sessions, `doit -n {n}` (agent works {sizes.hold:g}s per stop): "
                "orchestrator memory per session"
            ),
            hatchdoit=f"{mib(per_session)} PSS ({mib(rss_per_session)} RSS)",
            baseline=(
                f"bare doit -n {n}, {n} busy trivial tasks: {mib(floor_pss)} PSS "
                f"({mib(floor_rss)} RSS) per task"
            ),
            comparison=(
                f"{per_session / floor_pss:.1f}x bare; {mem['processes_at_peak_rss']} doit "
                f"processes, peak sums {mib(mem['peak_pss_kib'])} PSS / "
                f"{mib(mem['peak_rss_kib'])} RSS"
            ),
            target=f"all {n} done; <= 25 MB (PSS sum / sessions)",
            met=held["done"] == n and per_session <= TARGET_KIB_PER_SESSION,
            note=f"{held['done']}/{n} done in {secs(held['wall'])}: "
            f"{held['throughput_per_min']:.0f} TaskSpecs/min",
        ),
        Row(
            key="throughput",
            measure=f"{n} TaskSpecs, `doit -n {n}`, zero-time scripted agent: throughput",
            hatchdoit=f"{zero['throughput_per_min']:.0f} TaskSpecs/min",
            baseline="-",
            comparison=f"{zero['done']}/{n} done in {secs(zero['wall'])}",
            target="(reported)",
            met=None,
            note=f"peak doit RSS sum {mib(zero['doit']['peak_rss_kib'])}",
        ),
    ]
    return Section(
        name="concurrent",
        rows=rows,
        data={"bare_doit_parallel": bare, "held": held, "zero_time": zero},
    )
