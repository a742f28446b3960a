"""hatchdoit.yaml's settings as pydantic models: every key, its type, default and bounds.

How a file, an environment overlay and variables become one of these is config/loader.py.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, field_validator

from hatchdoit.config.base import Strict
from hatchdoit.config.base import argv as _argv
from hatchdoit.config.provider_models import BudgetsConfig, ProvidersConfig
from hatchdoit.config.shared_models import SharedConfig
from hatchdoit.config.workspace_models import ConfinementConfig, WorkspaceConfig


class RoleLimits(Strict):
    wall_timeout: float = Field(default=3600.0, gt=0, description="Seconds an agent run may take")
    idle_timeout: float = Field(
        default=600.0, gt=0, description="Seconds without pane output before an agent is hung"
    )
    ready_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for readiness")


class QaLimits(RoleLimits):
    wall_timeout: float = Field(default=1800.0, gt=0, description="Seconds a QA run may take")


class Backoff(Strict):
    base: float = Field(default=2.0, ge=0, description="Delay before the 2nd attempt after a fault")
    factor: float = Field(default=2.0, ge=1)
    max: float = Field(default=120.0, ge=0)
    jitter: float = Field(default=0.2, ge=0, le=1, description="Fraction of random spread")


class Limits(Strict):
    parallel_sessions: int = Field(default=4, ge=1, description="Agent sessions alive at once")
    max_attempts: int = Field(default=3, ge=1, le=20)
    factory: RoleLimits = Field(default_factory=RoleLimits)
    qa: QaLimits = Field(default_factory=QaLimits)
    summary_injections: int = Field(default=2, ge=0, description="Summary prompts after a stop")
    submit_retries: int = Field(default=3, ge=1, description="Enter presses to submit a prompt")
    submit_timeout: float = Field(default=5.0, gt=0, description="Seconds to confirm a submit")
    test_timeout: float = Field(default=900.0, gt=0)
    poll_interval: float = Field(default=0.5, gt=0, description="Backup poll behind inotify")
    progress_every: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between the lines a step prints while it waits on an agent "
        "(elapsed and idle time) or for a free agent slot",
    )
    backoff: Backoff = Field(default_factory=Backoff)
    plan_wait: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds an agent launch waits for a planning repo that went away (an "
        "unmounted share) to come back, before that attempt fails",
    )
    start_order: Literal["critical-path", "plan"] = Field(
        default="critical-path",
        description="Which ready step goes first when more are ready than workers or agent "
        "slots: `critical-path` (the TaskSpec with the longest chain of predicted work), or "
        "`plan` (doit's own first-in first-out, in plan order)",
    )


class AgentDefaults(Strict):
    factory: str = Field(default="scripted", description="Factory profile of TaskSpecs naming none")
    qa: str = Field(default="scripted", description="QA profile of TaskSpecs naming none")
    override: str | None = Field(
        default=None,
        description="Profile for every TaskSpec and role, above the TaskSpecs' own `agent:` "
        "choices (what HATCHDOIT_AGENT sets for one run)",
    )


class GitIdentity(Strict):
    name: str = Field(default="hatchdoit", min_length=1)
    email: str = Field(default="hatchdoit@localhost", min_length=1)


class TargetConfig(Strict):
    repo: str = Field(default=".", description="Git repo the agents work on, relative to root")
    seed: str | None = Field(
        default=None, description="Directory copied into a new repo when `repo` does not exist"
    )
    integration_branch: str | None = Field(
        default=None,
        description="Branch worktrees start from and approved work is integrated into; default: "
        "the branch checked out when a TaskSpec's worktree was made (recorded there)",
    )
    commit_as: GitIdentity = Field(
        default_factory=GitIdentity,
        description="Author and committer of the commits hatchdoit makes itself: an agent's "
        "uncommitted work, integration merges",
    )


class IntegrationConfig(Strict):
    test_command: list[str] = Field(
        default_factory=list,
        description="A project-wide test argv run on the merged tree, after the TaskSpec's own "
        "test_command, before the integration branch moves (empty: none)",
    )
    test_timeout: float = Field(default=900.0, gt=0, description="Seconds each may take")
    max_attempts: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Factory attempts after a merge conflict or failing post-merge tests, before "
        "the TaskSpec escalates with cause `integration`",
    )
    batch_max: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Merge modes: approved TaskSpecs waiting to land are merged onto the tip "
        "together, tested once and landed with one compare-and-swap, this many at most (1: one "
        "at a time); a red batch is retried once, then bisected",
    )
    batch_wait: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="Seconds the first TaskSpec ready to land waits for others to join its batch",
    )
    remote: str = Field(
        default="origin",
        min_length=1,
        description="The git remote: where `pr` mode pushes, and whose branch merge modes land "
        "on with `land_on: remote`",
    )
    land_on: Literal["local", "remote"] = Field(
        default="local",
        description="Merge modes: the integration branch that moves, the target repo's own "
        "(local) or `remote`'s (remote: fetched, merged onto its tip, tested, then pushed by "
        "compare-and-swap, redone on a refused push; the local branch follows by fast-forward). "
        "The environment variable HATCHDOIT_LAND_ON=local|remote outranks it",
    )
    draft: bool = Field(default=False, description="`pr` mode: open pull requests as drafts")
    labels: list[str] = Field(default_factory=list, description="`pr` mode: labels of each PR")
    dependents: Literal["stack", "wait"] = Field(
        default="stack",
        description="`pr` mode: a dependent's PR is based on its dependency's branch (stack), or "
        "is opened once the dependency's PR has merged (wait)",
    )

    @field_validator("test_command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _argv(value)


class ChecksConfig(Strict):
    env_passthrough: list[str] = Field(
        default_factory=list,
        description="Variables a TaskSpec's test_command gets besides the scrubbed basics "
        "(PATH, HOME, LANG, LC_*, TMPDIR, TZ, ...; run/test_runs.py's TEST_ENV): NAME, or "
        "PREFIX* for every name with it; named here, even a credential is passed",
    )


class LogConfig(Strict):
    level: Literal["CRITICAL", "ERROR", "WARN", "WARNING", "INFO", "DEBUG"] = "INFO"
    max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=0,
        description="Rotate a component's .jsonl log once it grows past this size (0: never)",
    )
    backups: int = Field(default=5, ge=0, description="Rotated files kept per component log")
    retention_days: float = Field(
        default=14.0, ge=0, description="Delete rotated log files older than this (0: keep)"
    )


NotifyEvent = Literal["escalated", "build_failed", "awaiting_review", "branch_tampered"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)


class NotifyConfig(Strict):
    command: list[str] = Field(
        default_factory=list,
        description="argv run with a JSON payload on stdin when a TaskSpec escalates or a build "
        "fails (empty: no notifications)",
    )
    events: list[NotifyEvent] = Field(
        default_factory=lambda: list(NOTIFY_EVENTS),
        description="Which events run the command",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds the command may take")


PLAN_FORMATS = ("hatchdoit", "spec-kit", "taskmaster", "kiro")
PlanFormat = Literal["auto", "hatchdoit", "spec-kit", "taskmaster", "kiro"]


class RoleChoice(Strict):
    factory: str | None = Field(default=None, description="Factory agent profile")
    qa: str | None = Field(default=None, description="QA agent profile")


class TaskDefaults(Strict):
    """What a TaskSpec that does not say it takes from hatchdoit.yaml: a foreign plan's (they carry
    none of it), a `_specs/` file's missing keys; unset keys inherit."""

    loc_cap: int | None = Field(
        default=None, gt=0, description="Lines a TaskSpec may add (unset in defaults: 400)"
    )
    test_command: list[str] | None = Field(
        default=None,
        description="argv run in the worktree to test a TaskSpec naming none (foreign plans: all)",
    )
    agent: RoleChoice = Field(default_factory=lambda: RoleChoice())
    max_attempts: int | None = Field(
        default=None, ge=1, le=20, description="Attempts (unset: limits.max_attempts)"
    )
    test_timeout: float | None = Field(
        default=None, gt=0, description="Seconds test_command may take (unset: limits.test_timeout)"
    )
    review: Literal["none", "after-qa", "before-integrate"] | None = Field(
        default=None, description="Where its TaskSpecs wait for a person (unset: review)"
    )

    @field_validator("test_command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _argv(value)


class PlanningConfig(Strict):
    format: PlanFormat = Field(
        default="auto",
        description="How the planning repo is read: hatchdoit (_specs/), spec-kit "
        "(specs/*/tasks.md), taskmaster (.taskmaster/tasks/tasks.json), kiro "
        "(.kiro/specs/*/tasks.md); auto: the first of these the repo has",
    )
    include: list[str] = Field(
        default_factory=list,
        description="Foreign plans: the features (spec-kit, Kiro folders) or Task Master tags "
        "to read (empty: all)",
    )
    infer_order: bool = Field(
        default=True,
        description="Foreign plans: add the dependencies their order implies (spec-kit phases "
        "and [P], Kiro numbering and (P)); see docs/planning-formats.md",
    )
    optional_tasks: Literal["skip", "build"] = Field(
        default="skip", description="Kiro's optional tasks (`- [ ]* 1.3`): skip or build them"
    )
    defaults: TaskDefaults = Field(default_factory=TaskDefaults)
    features: dict[str, TaskDefaults] = Field(
        default_factory=dict,
        description="Per feature (folder name) or Task Master tag: the keys of `defaults`, "
        "above them, for its TaskSpecs",
    )


MERGE_MODES = ("merge", "squash", "rebase")
ReviewGate = Literal[
    "none", "after-qa", "before-integrate"
]  # `integrate` values that move the integration branch


class HatchdoitConfig(Strict):
    specs: str = Field(default="specs_link", description="Planning repo (read-only)")
    planning: PlanningConfig = Field(default_factory=PlanningConfig)
    target: TargetConfig = Field(default_factory=TargetConfig)
    integrate: Literal["none", "merge", "squash", "rebase", "pr"] = Field(
        default="none",
        description="How approved work is delivered: none; merge, squash or rebase onto the "
        "integration branch (tested on the merged tree, then the branch moves); pr: push the "
        "TaskSpec's branch and open one pull request per TaskSpec with gh",
    )
    integration: IntegrationConfig = Field(default_factory=IntegrationConfig)
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    workspace: WorkspaceConfig = Field(default_factory=WorkspaceConfig)
    shared: SharedConfig = Field(default_factory=SharedConfig)
    confinement: ConfinementConfig = Field(
        default_factory=ConfinementConfig,
        description="How agents and the commands run on their code are confined; "
        "`confinement: auto` is short for `confinement: {mode: auto}`",
    )
    providers: ProvidersConfig = Field(default_factory=ProvidersConfig)
    budgets: BudgetsConfig = Field(default_factory=BudgetsConfig)
    review: ReviewGate = Field(
        default="none",
        description="Where a QA-approved TaskSpec waits for a person (`hatchdoit approve` or "
        "`reject`): none; after-qa (before done.json, so its dependents wait too); "
        "before-integrate (before its delivery). A TaskSpec's own `review:` wins",
    )
    review_from: Literal["hatchdoit", "pr"] = Field(
        default="hatchdoit",
        description="pr: with `integrate: pr`, the pull request is the review: an approving "
        "GitHub review counts as `hatchdoit approve`, changes requested (with its unresolved "
        "comments) as `hatchdoit reject --feedback`",
    )
    tmux_socket: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,99})?$",
        description="Name of the project's own tmux server socket (`tmux -L <name>`); unset, "
        "`hatchdoit-<folder>-<hash of the project root>`, so that two checkouts or CI jobs on "
        "one machine never share a server",
    )
    plan_protection: Literal["auto", "namespace", "snapshot"] = Field(
        default="auto",
        description="How agents are kept from writing the plan: namespace (their processes see "
        "the planning repo through a read-only mount of their own: needs user namespaces or "
        "root); snapshot (they get read-only copies of their TaskSpec and FeatSpec files, and "
        "no path to the repo); auto: namespace where this machine allows it. `hatchdoit "
        "doctor` says which is in force",
    )
    worktrees: str = Field(
        default="_worktrees",
        min_length=1,
        description="Where the TaskSpecs' worktrees (clones of the target repo) go: relative to "
        "the project root, or "
        "absolute. `hatchdoit init` in a repo that is its own target writes "
        "`.hatchdoit/worktrees` (a dot-folder test runners and linters skip)",
    )
    agents_dir: str = Field(
        default="agents",
        min_length=1,
        description="The project's own agent profiles (`<name>.yaml`) and prompt templates "
        "(`prompts/<name>.md`): each overrides the bundled one of its name, or adds one",
    )
    scripts_dir: str | None = Field(
        default=None,
        description="A replacement for the bundled bash scripts (scripts/agent, git, tmux, "
        "mount); unset, the installed package's are used",
    )
    agents: AgentDefaults = Field(default_factory=AgentDefaults)
    limits: Limits = Field(default_factory=Limits)
    logs: LogConfig = Field(default_factory=LogConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    agent_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-profile parameters, e.g. model or extra flags"
    )
    environments: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Overlays chosen by HATCHDOIT_ENV (dev, ci, prod)"
    )

    @field_validator("confinement", mode="before")
    @classmethod
    def _confinement_mode(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value
