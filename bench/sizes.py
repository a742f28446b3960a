"""How big a run is: the full suite of issue 7, or the quick one the smoke test runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    stops: int = 200  # stops timed per waiter (hatchdoit, bare primitive, polling)
    poll_lanes: int = 8  # polling loops run side by side so the 500 ms baseline stays short
    e2e_runs: int = 5  # fresh one-TaskSpec projects built end to end
    baseline_runs: int = 5  # git worktree add + two tmux new-session
    batch: int = 4  # TaskSpecs of the sequential build that prices each further TaskSpec
    batch_runs: int = 3  # such builds
    taskspecs: int = 1000  # generated TaskSpecs for list / no-op / status
    repeats: int = 5  # timings of each command on the generated projects (median reported)
    concurrent: int = 16  # TaskSpecs and sessions of the `doit -n N` run
    hold: float = 4.0  # seconds the concurrency run's agent works before its stop
    integrations: int = 100  # independent TaskSpecs integrated one after the other
    quick: bool = False


FULL = Sizes()
QUICK = Sizes(
    stops=20,
    poll_lanes=4,
    e2e_runs=1,
    baseline_runs=2,
    batch=2,
    batch_runs=1,
    taskspecs=30,
    repeats=1,
    concurrent=3,
    hold=0.5,
    integrations=3,
    quick=True,
)
