"""Artifact records: what each step writes, as pydantic models with exported JSON Schemas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hatchdoit.core.clock import now_iso
from hatchdoit.records.fault_classes import FaultClass

Outcome = Literal["ok", "failed"]
StopEvent = Literal[
    "stop", "stop_failure", "session_end", "exited", "crashed", "timeout", "idle", "budget"
]


# defer_build: a model's validator is built when first used, not at import, so a process that
# reads no record of a kind (`doit list` on a fresh project reads none) does not pay for it.
class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class WorktreeRecord(_Record):
    taskspec_id: str
    path: str
    branch: str
    base_ref: str
    base_commit: str
    merged_dependencies: list[str] = Field(default_factory=list)
    reset: int = Field(default=0, ge=0, description="The reset decision it was made after (seq)")
    created_at: str = Field(default_factory=now_iso)


class LaunchRecord(_Record):
    taskspec_id: str
    role: Literal["factory", "qa"]
    attempt: int = Field(ge=1)
    run_token: str
    digest: str
    session: str
    profile: str
    socket: str
    prompt_file: str
    pane_offset: int = Field(
        default=0, ge=0, description="Where this launch's output starts in the pane log"
    )
    confinement: str | None = Field(
        default=None, description="confined | unconfined | off (README: What an agent can touch)"
    )
    started_at: str = Field(default_factory=now_iso)


class StopRecord(BaseModel):
    """Written by scripts/agent/stop_hook.sh (source=hook) or by the orchestrator on faults."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    run_token: str
    taskspec_id: str
    role: Literal["factory", "qa"]
    attempt: int = Field(ge=1)
    event: StopEvent
    source: Literal["hook", "orchestrator"]
    seq: int = Field(default=1, ge=1, description="Counts stops of the same run")
    reason: str = ""
    at: str = Field(default_factory=now_iso)
    payload: dict[str, Any] = Field(default_factory=dict)


class TestResults(BaseModel):
    passed: int = Field(ge=0)
    failed: int = Field(ge=0)


class LocAnalysis(BaseModel):
    actual: int = Field(ge=0)
    cap: int = Field(ge=0)


class SummaryRecord(BaseModel):
    """The factory's handover summary (the seed's schema); agents may add fields."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    taskspec_id: str
    agent_type: Literal["factory"]
    iteration: int = Field(ge=1)
    status: Literal["completed", "failed", "partial"]
    implementation_files: list[str]
    test_results: TestResults
    loc_analysis: LocAnalysis
    next_steps: list[str]
    handover_notes: str


class TestRun(_Record):
    command: list[str]
    exit_code: int | None
    passed: int | None = None
    failed: int | None = None
    duration_s: float
    timed_out: bool = False
    log: str
    confinement: str | None = Field(
        default=None, description="confined | unconfined | off (README: What an agent can touch)"
    )


class LocCount(_Record):
    base_commit: str
    commit: str | None = Field(
        default=None, description="The attempt's commit: lines are counted base_commit..commit"
    )
    added: int
    removed: int
    cap: int
    files: list[str]


class ChecksRecord(_Record):
    taskspec_id: str
    attempt: int = Field(ge=1)
    commit: str | None = Field(default=None, description="The attempt's commit the checks ran on")
    tests: TestRun | None
    loc: LocCount | None
    passed: bool
    failures: list[str] = Field(default_factory=list)
    by_products: list[str] = Field(
        default_factory=list, description="Files the tests left in the worktree, removed after"
    )
    at: str = Field(default_factory=now_iso)


class VerdictRecord(BaseModel):
    """The QA agent's verdict."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    taskspec_id: str
    attempt: int = Field(ge=1)
    verdict: Literal["approved", "rejected"]
    reasons: list[str] = Field(default_factory=list)
    feedback: str = ""


class Receipt(_Record):
    """Proof that a step finished for given inputs; the artifact's hash pins what it produced."""

    taskspec_id: str
    step: str
    attempt: int = Field(ge=0)
    digest: str
    outcome: Outcome
    reasons: list[str] = Field(default_factory=list)
    artifact: str | None = None
    artifact_sha256: str | None = None
    artifact_token: str | None = Field(
        default=None, description="Pins a file that later stops of the same run may rewrite"
    )
    artifact_stat: list[int] | None = Field(
        default=None,
        description="The artifact's (inode, mtime_ns, size) when pinned: while they are the "
        "same, and the artifact is older than the receipt, its hash need not be read again",
    )
    data: dict[str, Any] = Field(default_factory=dict)
    finished_at: str = Field(default_factory=now_iso)


class DoneRecord(_Record):
    taskspec_id: str
    digest: str
    attempt: int = Field(ge=1)
    branch: str
    commit: str
    verdict: str
    finished_at: str = Field(default_factory=now_iso)


class EscalatedRecord(_Record):
    taskspec_id: str
    digest: str
    attempts: int
    reasons: list[str]
    finished_at: str = Field(default_factory=now_iso)


DecisionKind = Literal["approve", "reject", "retry", "reset", "integration"]


class DecisionRecord(_Record):
    """A decision about a TaskSpec taken outside its attempts: a person's (approve, reject,
    retry, reset) or the integration step's (a conflict or failing tests sent the work back).
    An input of the TaskSpec: attempts after it see it in their prompt and digest."""

    taskspec_id: str
    seq: int = Field(ge=1, description="Order of the TaskSpec's decisions (its file name)")
    kind: DecisionKind
    after_attempt: int = Field(ge=0, description="The last attempt that existed when it was taken")
    grants: int = Field(default=0, ge=0, description="Attempts it adds beyond max_attempts")
    feedback: str = ""
    commit: str | None = None
    files: list[str] = Field(default_factory=list, description="e.g. the files in conflict")
    hard: bool = Field(default=False, description="reset: the old branch is deleted, not kept")
    budget_usd: float = Field(
        default=0.0, ge=0, description="retry: raises the TaskSpec's budgets.taskspec_usd by this"
    )
    who: str
    at: str = Field(default_factory=now_iso)


IntegrationOutcome = Literal["integrated", "escalated"]


class IntegrationRecord(_Record):
    """`integrate.json`: how a TaskSpec's approved commit was delivered."""

    taskspec_id: str
    digest: str
    mode: Literal["merge", "squash", "rebase", "pr"]
    outcome: IntegrationOutcome
    approved_commit: str
    branch: str = Field(description="The integration branch (merge modes) or the PR's base")
    landed_commit: str | None = Field(
        default=None, description="The commit on the integration branch that holds the work"
    )
    previous_tip: str | None = None
    pr_url: str | None = None
    pr_number: int | None = None
    tests: list[TestRun] = Field(default_factory=list)
    tries: int = Field(default=1, ge=1, description="Integration attempts, conflicts included")
    reasons: list[str] = Field(default_factory=list)
    finished_at: str = Field(default_factory=now_iso)


class PausedRecord(_Record):
    """`paused.json`: a TaskSpec waiting on its provider, not on its own work. Its attempt does
    not count; the same attempt runs again at `resume_at` (provider_runs/pause.py)."""

    taskspec_id: str
    role: Literal["factory", "qa"]
    attempt: int = Field(ge=1)
    provider: str
    fault: FaultClass
    message: str = ""
    waiting_for: Literal["fault", "provider"] = Field(
        description="fault: this run hit it; provider: another run did, and launches wait"
    )
    resume_at: str | None = Field(default=None, description="When it runs again (UTC)")
    since: str = Field(default_factory=now_iso)
    pauses: int = Field(default=1, ge=1, description="How often this attempt paused")


class ProviderState(_Record):
    """`_logs/providers/<provider>.json`: the circuit breaker of one provider, shared by every
    launch of the project."""

    provider: str
    state: Literal["closed", "open", "probing", "stopped"]
    fault: FaultClass | None = None
    message: str = ""
    until: str | None = Field(default=None, description="open: no launch before (UTC)")
    failures: int = Field(default=0, ge=0, description="Faults in a row (the backoff's exponent)")
    probe: str | None = Field(default=None, description="probing: the TaskSpec that probes")
    probe_pid: int | None = None
    episode: int = Field(
        default=0,
        ge=0,
        description="How many times the breaker opened from closed; a run's fault counts only "
        "in the episode it launched in",
    )
    fix: str = Field(default="", description="stopped: what a person must do")
    updated_at: str = Field(default_factory=now_iso)


class BudgetRecord(_Record):
    """`budget.json`: a TaskSpec stopped by a spend cap (budgets:). `taskspec`: it escalates
    with cause `budget` (`hatchdoit retry --budget-usd N` grants more); `build`: no more
    launches until the build's cap is raised."""

    taskspec_id: str
    scope: Literal["taskspec", "build"]
    spent_usd: float = Field(ge=0)
    cap_usd: float = Field(gt=0)
    attempt: int = Field(ge=1, description="The attempt the cap was crossed in")
    at: str = Field(default_factory=now_iso)
