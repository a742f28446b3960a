"""The records `hatchdoit status --json` prints (its schema): a TaskSpec's row, a FeatSpec's
rollup, the build, and the states a TaskSpec can be in, with what each means to the user.
observe/status_view.py fills them from the artifacts."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from hatchdoit.observe.provider_view import PausedInfo, ProviderInfo, SpendInfo
from hatchdoit.observe.staleness import StaleInfo
from hatchdoit.records.waiting import KINDS

State = Literal[
    "pending", "stale", "running", "unattended", "interrupted", "failed", "active", "done",
    "escalated", "awaiting review", "awaiting merge", "awaiting runner", "paused", "setup failed",
]  # fmt: skip
STATES: dict[str, tuple[str, str]] = {  # what each state means to the user, and its style
    "pending": ("nothing built yet", "dim"),
    "stale": ("inputs changed since it was built; the next doit rebuilds it", "magenta"),
    "running": ("a step of the running build is working on it", "bold cyan"),
    "unattended": ("its agent session is alive but no build waits on it; rerun doit", "yellow"),
    "interrupted": ("a step started and no build finished it; rerun doit", "yellow"),
    "failed": ("the last step raised an error; see hatchdoit logs --level error", "bold red"),
    "active": ("between steps", "cyan"),
    "done": ("approved", "green"),
    "escalated": ("its attempts ran out; a human has to look", "bold red"),
    **{w.state: (w.meaning, "bold yellow") for w in KINDS.values()},  # records/waiting.py
    "paused": ("its provider failed; the same attempt runs again when it is back", "yellow"),
    "setup failed": ("its workspace setup failed (no attempt counted); fix it, rerun doit", "red"),
}
assert set(STATES) == set(get_args(State))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class LastEvent(_Model):
    ts: str
    event: str
    text: str


class SessionInfo(_Model):
    session: str
    role: str
    attempt: int
    profile: str
    attach: str
    elapsed_s: float | None
    idle_s: float | None
    pane_log: str


class TaskRow(_Model):
    taskspec_id: str
    title: str
    featspec: str
    status: Literal["pending", "active", "paused", "done", "escalated"]
    state: State = Field(
        description="status refined by the audit trail, the build lock and live sessions: "
        + "; ".join(f"{k}: {v[0]}" for k, v in STATES.items())
    )
    step: str = Field(description="the step running now, else the last one finished")
    attempt: int
    max_attempts: int
    next: str | None = None
    decision: str | None = None
    reasons: list[str] = Field(default_factory=list)
    agents: dict[str, str] = Field(description="profile per role (factory, qa)")
    depends_on: list[str]
    last_event: LastEvent | None
    age_s: float | None = Field(description="seconds since the TaskSpec's last audit event")
    session: SessionInfo | None = None
    running_for_s: float | None = Field(
        default=None, description="seconds the step of the running build has been running"
    )
    stale: StaleInfo | None = Field(
        default=None, description="set when artifacts exist only for older inputs"
    )
    integration: dict[str, str] | None = Field(
        default=None, description="where the work was delivered: mode, branch, commit or PR URL"
    )
    paused: PausedInfo | None = Field(default=None, description="set while `paused`")
    waiting: str | None = Field(
        default=None,
        description="what it waits for while `awaiting ...` (`waiting for the pull request of "
        "A to merge`)",
    )
    spend: SpendInfo | None = Field(
        default=None, description="what its agents spent, against budgets.taskspec_usd if set"
    )


class FeatRow(_Model):
    featspec_id: str
    title: str
    status: Literal["pending", "in_progress", "blocked", "done"]
    total: int
    counts: dict[str, int]


class BuildInfo(_Model):
    running: bool = Field(description="a doit process holds the project's build lock")
    pid: int | None
    started_at: str | None = Field(default=None, description="when the running build took the lock")
    confinement: str | None = Field(
        default=None, description="confined | unconfined | off: the last build's agents and tests"
    )


class RunnerClaim(_Model):
    taskspec_id: str
    runner: str = Field(description="the CI runner that holds it (`hatchdoit ci --shared`)")
    renewed_at: str = Field(description="its last renewal, by the holder's clock")
    until: str = Field(description="renewed_at plus its lease: when others may take it over")


class StatusReport(_Model):
    """The `--json` document of `hatchdoit status`."""

    generated_at: str
    root: str
    specs: str
    build: BuildInfo
    totals: dict[str, int]
    featspecs: list[FeatRow]
    taskspecs: list[TaskRow]
    providers: list[ProviderInfo] = Field(
        default_factory=list, description="provider breakers that are not closed"
    )
    spend: SpendInfo | None = Field(
        default=None,
        description="the build's spend against budgets.build_usd; set when a budget is set or "
        "some run reported what it spent",
    )
    runners: list[RunnerClaim] = Field(
        default_factory=list,
        description="claims of CI runners sharing the build, as last fetched from the remote",
    )
