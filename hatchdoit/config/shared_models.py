"""hatchdoit.yaml's `shared:`: several CI runners sharing one build through the git remote
(`hatchdoit ci --shared`, docs/ci.md "Several runners, one build")."""

from __future__ import annotations

from pydantic import Field

from hatchdoit.config.base import Strict


class SharedConfig(Strict):
    lease_seconds: float = Field(
        default=300.0,
        ge=1,
        le=86400,
        description="How long a runner's claim on a TaskSpec lasts without renewal (renewed "
        "every third of it). A runner that dies holds its TaskSpecs this long, measured on the "
        "clock of the runner that takes over; short enough that a preempted CI job costs "
        "minutes, long enough that two failed renewals in a row (a slow remote) lose nothing",
    )
    poll_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How often a runner with nothing to build fetches the remote again while "
        "it waits on another runner",
    )
    wait_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How long a runner waits on TaskSpecs other runners hold (or, with "
        "--shard, build) once it has nothing else to do; then it ends with exit code 4 "
        "(`awaiting runner`)",
    )
