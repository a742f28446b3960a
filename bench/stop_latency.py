"""Measure 1: a `.stop` file is written -> the waiting step returns, against a 500 ms poll.

hatchdoit's side is the real thing: `wait_for_stop` on a real AgentRun (a live tmux session on a
private socket, the project's config, its DirWatch and backup poll) while a thread plays the
agent's stop hook: temp file in the run's output directory, write, fsync, `os.replace`. Latency
runs from just before `os.replace` to `wait_for_stop` returning. The bare primitive (DirWatch +
wait_until with the same validity check) is measured too, to separate the watcher from the step's
checks.

The baseline is what peer tools do: check the same file every 500 ms. Several independent
polling lanes run side by side (each with its own file and writer) so the run stays short; a
lane's writer waits a random time, so the stop lands at a random phase of the poll.
"""

from __future__ import annotations

import functools
import json
import os
import random
import resource
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.fixtures import Sandbox
from bench.results import Row, Section, mean, ms, summary
from bench.sizes import Sizes
from hatchdoit.agents.tmux import TOKEN_OPTION, session_name
from hatchdoit.agents.waiting import DirWatch, wait_until
from hatchdoit.project import load_project
from hatchdoit.records.models import LaunchRecord, StopRecord
from hatchdoit.records.schemas import try_load
from hatchdoit.run.agent_run import AgentRun
from hatchdoit.run.context import StepContext
from hatchdoit.steps.stop_wait import wait_for_stop

TID = "T001-STOP-LATENCY"
POLL_BASELINE = 0.5
HATCHDOIT_POLL = 0.5  # hatchdoit's default backup poll: an inotify miss would show as ~this
TARGET_P50, TARGET_P99 = 0.010, 0.050


def stop_record(token: str, attempt: int, seq: int) -> dict[str, Any]:
    record = StopRecord(
        run_token=token,
        taskspec_id=TID,
        role="factory",
        attempt=attempt,
        event="stop",
        source="hook",
        seq=seq,
        reason="bench",
    )
    return record.model_dump(mode="json")


def write_stop(path: Path, record: dict[str, Any], delay: float, stamp: list[float]) -> None:
    """Play the agent's stop hook after `delay`; `stamp` gets the time just before os.replace."""
    time.sleep(delay)  # the agent "works" a random while: deliberate, there is no event to wait on
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(json.dumps(record, indent=2, sort_keys=True).encode())
        fh.flush()
        os.fsync(fh.fileno())
    stamp.append(time.perf_counter())
    os.replace(tmp, path)


def _later(
    path: Path, record: dict[str, Any], delay: float
) -> tuple[threading.Thread, list[float]]:
    stamp: list[float] = []
    writer = threading.Thread(target=write_stop, args=(path, record, delay, stamp), daemon=True)
    writer.start()
    return writer, stamp


def _valid(path: Path, token: str, seq: int) -> StopRecord | None:
    """The check every waiter uses: the stop parses, validates and is the one awaited."""
    stop = try_load(path, StopRecord)
    return stop if stop is not None and stop.run_token == token and stop.seq >= seq else None


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the waiter's tmux calls)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_wait_for_stop(
    sandbox: Sandbox, stops: int, rng: random.Random
) -> dict[str, dict[str, list[float]]]:
    """Latency of hatchdoit's real `wait_for_stop`, one fresh wait per stop, in two cases:
    `first`, the first stop of an agent run (no stop file yet: a new attempt each time), and
    `again`, a later stop of the same run (its stop file is there with the previous `seq`, as
    after a summary request). Also the CPU the waiting process used per wait."""
    project = sandbox.project("stop-latency")
    role_limits = {"wall_timeout": 3600, "idle_timeout": 3600, "ready_timeout": 20}
    project.configure(
        limits={"poll_interval": HATCHDOIT_POLL, "factory": role_limits, "qa": role_limits}
    )
    project.add_taskspec(TID, test_command="true")
    ctx = StepContext(load_project(project.root), TID)
    ctx.worktree.mkdir(parents=True)  # the waiter treats a vanished worktree as a crash
    session = session_name(ctx.layout.tag, TID, "factory", 1)
    started = sandbox.tmux(
        project.socket, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", "sleep", "86400"
    )
    if started.returncode != 0:
        raise RuntimeError(f"tmux new-session failed: {started.stderr.strip()}")
    token = f"{ctx.digest[:12]}-{secrets.token_hex(8)}"
    # The run token hatchdoit tags its sessions with: without it the session is not this run's.
    sandbox.tmux(project.socket, "set-option", "-t", f"={session}:", TOKEN_OPTION, token)

    def agent_run(attempt: int) -> AgentRun:
        launch = LaunchRecord(
            taskspec_id=TID,
            role="factory",
            attempt=attempt,
            run_token=token,
            digest=ctx.digest,
            session=session,  # one live session stands for every attempt's
            profile="scripted",
            socket=project.socket,
            prompt_file="_logs/factory/bench-prompt.md",
        )
        return AgentRun(ctx, "factory", attempt, launch, ctx.tmux())

    results: dict[str, dict[str, list[float]]] = {}
    try:
        for case in ("first", "again"):
            latencies, cpu = [], []
            for n in range(1, stops + 1):
                attempt, seq = (n, 1) if case == "first" else (stops + 1, n)
                run = agent_run(attempt)
                delay = rng.uniform(0.02, 0.08)  # past the DirWatch set-up: the waiter is idle
                before = _cpu()
                # where the agent's hook writes (its run's output directory); hatchdoit takes it
                hook_file = ctx.layout.run_stop(TID, "factory", attempt)
                hook_file.parent.mkdir(parents=True, exist_ok=True)
                writer, stamp = _later(hook_file, stop_record(token, attempt, seq), delay)
                stop = wait_for_stop(run, after_seq=seq - 1)
                returned = time.perf_counter()
                cpu.append(_cpu() - before)
                writer.join()
                if stop.source != "hook" or stop.seq != seq:
                    raise RuntimeError(f"wait_for_stop returned {stop.event}: {stop.reason}")
                latencies.append(returned - stamp[0])
            results[case] = {"latency": latencies, "cpu": cpu}
    finally:
        sandbox.kill_server(project.socket)
    return results


def measure_primitive(directory: Path, stops: int, rng: random.Random) -> list[float]:
    """DirWatch + wait_until with the same check, no tmux or pane checks around it."""
    path = directory / "factory-2.stop"
    token = secrets.token_hex(8)
    latencies: list[float] = []
    for seq in range(1, stops + 1):
        with DirWatch(directory) as watch:
            writer, stamp = _later(path, stop_record(token, 2, seq), rng.uniform(0.01, 0.03))
            stop = wait_until(
                functools.partial(_valid, path, token, seq),
                watch=watch,
                timeout=10,
                poll=HATCHDOIT_POLL,
            )
            returned = time.perf_counter()
        writer.join()
        if stop is None:
            raise RuntimeError("the primitive wait timed out")
        latencies.append(returned - stamp[0])
    return latencies


def _polling_lane(directory: Path, stops: int, seed: int, out: list[float]) -> None:
    """One 500 ms polling loop and the writer feeding it stops at random phases."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "factory-1.stop"
    token = secrets.token_hex(8)
    seen: dict[int, float] = {}
    arrived = threading.Condition()
    done = threading.Event()

    def poller() -> None:  # the baseline: check, sleep 500 ms, check again
        last = 0
        while not done.is_set():
            stop = _valid(path, token, last + 1)
            if stop is not None:
                with arrived:
                    seen[stop.seq] = time.perf_counter()
                    last = stop.seq
                    arrived.notify_all()
            time.sleep(POLL_BASELINE)

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    try:
        for seq in range(1, stops + 1):
            stamp: list[float] = []
            write_stop(path, stop_record(token, 1, seq), rng.uniform(0, POLL_BASELINE), stamp)
            with arrived:
                if not arrived.wait_for(functools.partial(seen.__contains__, seq), timeout=10):
                    raise RuntimeError("the polling baseline missed a stop")
            out.append(seen[seq] - stamp[0])
    finally:
        done.set()
        thread.join()


def measure_polling(root: Path, stops: int, lanes: int) -> list[float]:
    results: list[list[float]] = [[] for _ in range(lanes)]
    per_lane = -(-stops // lanes)
    threads = [
        threading.Thread(
            target=_polling_lane, args=(root / f"lane-{n}", per_lane, 1000 + n, results[n])
        )
        for n in range(lanes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = [x for lane in results for x in lane]
    if len(latencies) < per_lane * lanes:
        raise RuntimeError("a polling lane failed")
    return latencies


def run(sandbox: Sandbox, sizes: Sizes) -> Section:
    rng = random.Random(7)
    waits = measure_wait_for_stop(sandbox, sizes.stops, rng)
    primitive = measure_primitive(sandbox.root / "primitive" / "hooks", sizes.stops, rng)
    polling = measure_polling(sandbox.root / "polling", sizes.stops, sizes.poll_lanes)
    h, a = summary(waits["first"]["latency"]), summary(waits["again"]["latency"])
    p, b = summary(primitive), summary(polling)
    cpu_first, cpu_again = (mean(waits[case]["cpu"]) for case in ("first", "again"))
    met = all(x["p50"] <= TARGET_P50 and x["p99"] <= TARGET_P99 for x in (h, a))
    row = Row(
        key="stop_latency",
        measure=(
            f"stop file written -> waiting step returns (`wait_for_stop`), {h['n']} first "
            f"stops of a run and {a['n']} later ones"
        ),
        hatchdoit=(
            f"first: p50 {ms(h['p50'])} / p99 {ms(h['p99'])}; later: p50 {ms(a['p50'])} / "
            f"p99 {ms(a['p99'])}"
        ),
        baseline=f"500 ms poll ({b['n']} stops): p50 {ms(b['p50'])} / p99 {ms(b['p99'])}",
        comparison=f"p50 {b['p50'] / h['p50']:.0f}x faster",
        target="<= 10 ms / <= 50 ms",
        met=met,
        note=(
            f"waiter CPU per wait (mean): first {ms(cpu_first)}, later {ms(cpu_again)}; "
            f"bare DirWatch+wait_until: p50 {ms(p['p50'])} / p99 {ms(p['p99'])}"
        ),
    )
    return Section(
        name="stop_latency",
        rows=[row],
        data={
            "unit": "seconds",
            "wait_for_stop_first_stop": h,
            "wait_for_stop_later_stop": a,
            "waiter_cpu_per_wait_mean": {"first": cpu_first, "later": cpu_again},
            "dirwatch_wait_until": p,
            "polling_500ms": b,
            "hatchdoit_poll_interval": HATCHDOIT_POLL,
            "raw_wait_for_stop": waits,
        },
    )
