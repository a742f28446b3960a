"""A project: root, config, planning repo, profiles and input digests, loaded once per process."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from hatchdoit.agents.profiles import LoadedProfile, load_profile
from hatchdoit.agents.prompts import TEMPLATE_NAMES, template_path
from hatchdoit.config.loader import CONFIG_FILE, load_config
from hatchdoit.config.models import HatchdoitConfig
from hatchdoit.core import bundled
from hatchdoit.core.errors import ConfigError, SpecError
from hatchdoit.core.logs import Rotation, get_logger
from hatchdoit.layout import ROLES, Layout, Role
from hatchdoit.planning.dependencies import drop_dependents_of_missing
from hatchdoit.planning.plan import Plan, load_plan
from hatchdoit.planning.specs import TaskSpec
from hatchdoit.records.decisions import read_decisions
from hatchdoit.records.models import DecisionRecord, DoneRecord
from hatchdoit.records.schemas import try_load


def agents_search(root: Path, agents_dir: str) -> tuple[Path, ...]:
    """The agents dirs in lookup order: the project's own (when it exists), then the bundled."""
    own = (root / agents_dir).resolve()
    return (own, bundled.AGENTS) if own.is_dir() and own != bundled.AGENTS else (bundled.AGENTS,)


@dataclass
class Project:
    root: Path
    config: HatchdoitConfig
    plan: Plan
    _profiles: dict[str, LoadedProfile] = field(default_factory=dict)
    _digests: dict[str, str] = field(default_factory=dict)
    _templates: dict[str, str] = field(default_factory=dict)
    _memo: dict[tuple[object, ...], Any] = field(default_factory=dict)

    @cached_property
    def layout(self) -> Layout:
        return Layout(self.root, self.config.worktrees)

    @cached_property
    def scripts_dir(self) -> Path:
        """The bundled bash scripts, or hatchdoit.yaml's `scripts_dir` replacing them."""
        chosen = self.config.scripts_dir
        return (self.root / chosen).resolve() if chosen else bundled.SCRIPTS

    @cached_property
    def agents_dirs(self) -> tuple[Path, ...]:
        """Where profiles and prompt templates are looked up by name: the project's own agents
        dir (hatchdoit.yaml's `agents_dir`) first, then the bundled one."""
        return agents_search(self.root, self.config.agents_dir)

    @property
    def specs_root(self) -> Path:
        return (self.root / self.config.specs).absolute()

    @property
    def target_repo(self) -> Path:
        return (self.root / self.config.target.repo).resolve()

    @cached_property
    def log_rotation(self) -> Rotation:
        """hatchdoit.yaml's `logs:` rotation and retention."""
        logs = self.config.logs
        return Rotation(logs.max_bytes, logs.backups, logs.retention_days)

    def logger(self, component: str) -> logging.Logger:
        """The JSON-lines logger of `component` (orchestrator, factory, qa, ...), with the
        project's level and rotation."""
        return get_logger(self.layout.logs, component, self.config.logs.level, self.log_rotation)

    def script(self, *parts: str) -> Path:
        return self.scripts_dir.joinpath(*parts)

    def taskspec(self, tid: str) -> TaskSpec:
        return self.plan.taskspec(tid)

    def max_attempts(self, tid: str) -> int:
        return self.taskspec(tid).max_attempts or self.config.limits.max_attempts

    def profile_name(self, tid: str, role: Role) -> str:
        """HATCHDOIT_AGENT (agents.override), else the TaskSpec's choice, else hatchdoit.yaml's."""
        agents = self.config.agents
        chosen = agents.override or getattr(self.taskspec(tid).agent, role)
        return str(chosen or getattr(agents, role))

    def profile(self, tid: str, role: Role) -> LoadedProfile:
        name = self.profile_name(tid, role)
        if name not in self._profiles:
            self._profiles[name] = load_profile(self.agents_dirs, name)
        return self._profiles[name]

    def _template_shas(self) -> dict[str, str]:
        """The prompt templates' hashes, read once per project load (every digest has them)."""
        if not self._templates:
            self._templates.update(
                (name, _file_sha(template_path(self.agents_dirs, name))) for name in TEMPLATE_NAMES
            )
        return self._templates

    # Input digests -------------------------------------------------------------------------
    # What a TaskSpec's records were made from. Static inputs (the TaskSpec file, the agent
    # profiles, the prompt templates, the target) are hashed once per process; the dynamic ones,
    # the approved commits of its dependencies and its decisions, are read from their files and
    # kept until refresh() (at every step boundary), so that a doit run's thousands of
    # up-to-date checks read each file once. Limits that only bound work (max_attempts,
    # timeouts, backoff) are not inputs.

    def own_digest(self, tid: str) -> str:
        """The static inputs of a TaskSpec's chain."""
        if tid not in self._digests:
            inputs = {
                "spec": self.plan.taskspecs[tid].source_sha256,
                "factory": self.profile(tid, "factory").sha256,
                "qa": self.profile(tid, "qa").sha256,
                "templates": self._template_shas(),
                "target": str(self.config.target.repo),
                "integration_branch": self.config.target.integration_branch,
            }
            self._digests[tid] = _sha(inputs)
        return self._digests[tid]

    def refresh(self) -> None:
        """Forget the dynamic inputs read so far (dependencies' commits, decisions): called at
        every step boundary, where another process may have changed them."""
        self._memo.clear()

    def decisions(self, tid: str) -> list[DecisionRecord]:
        """The TaskSpec's decisions since its last reset, in order (records/decisions.py)."""
        key = ("decisions", tid)
        if key not in self._memo:
            found = read_decisions(self.layout, tid)
            resets = [i for i, d in enumerate(found) if d.kind == "reset"]
            self._memo[key] = found[resets[-1] :] if resets else found
        return self._memo[key]  # type: ignore[no-any-return]

    def approved_commit(self, tid: str) -> str | None:
        """The commit done.json records, while it is current for the TaskSpec's inputs."""
        key = ("approved", tid)
        if key not in self._memo:
            done = try_load(self.layout.done(tid), DoneRecord)
            current = done is not None and done.digest == self.digest(tid)
            self._memo[key] = done.commit if current and done is not None else None
        return self._memo[key]  # type: ignore[no-any-return]

    def base_digest(self, tid: str) -> str:
        """The worktree's inputs: the static ones, each dependency's approved commit (a rebuilt
        dependency rebuilds its dependents) and the last reset."""
        key = ("base", tid)
        if key not in self._memo:
            decisions = self.decisions(tid)
            self._memo[key] = _sha(
                {
                    "own": self.own_digest(tid),
                    "deps": {d: self.approved_commit(d) for d in self.taskspec(tid).depends_on},
                    "reset": decisions[0].seq if decisions and decisions[0].kind == "reset" else 0,
                }
            )
        return self._memo[key]  # type: ignore[no-any-return]

    def attempt_digest(self, tid: str, attempt: int) -> str:
        """The inputs of attempt k's steps: the base, and the decisions taken before it (their
        feedback is in its prompt). A decision never changes an attempt made before it."""
        key = ("attempt", tid, attempt)
        if key not in self._memo:
            before = [
                d for d in self.decisions(tid) if d.kind != "reset" and d.after_attempt < attempt
            ]
            self._memo[key] = _sha({"base": self.base_digest(tid), "decisions": _ids(before)})
        return self._memo[key]  # type: ignore[no-any-return]

    def digest(self, tid: str) -> str:
        """The inputs of the whole chain (done.json, escalated.json): the base and every
        decision. What a dependent's digest holds of it is its approved commit."""
        key = ("digest", tid)
        if key not in self._memo:
            decisions = [d for d in self.decisions(tid) if d.kind != "reset"]
            self._memo[key] = _sha({"base": self.base_digest(tid), "decisions": _ids(decisions)})
        return self._memo[key]  # type: ignore[no-any-return]

    def step_digest(self, tid: str, step: str, attempt: int) -> str:
        """The digest a step's receipt must record to be current."""
        if step == "worktree":
            return self.base_digest(tid)
        if step == "taskspec":
            return self.digest(tid)
        if step == "integrate":  # the chain's inputs and how its work is delivered
            return _sha({"chain": self.digest(tid), "mode": self.config.integrate})
        return self.attempt_digest(tid, attempt)

    def attempt_count(self, tid: str) -> int:
        """Attempts the TaskSpec has: max_attempts and what decisions granted beyond it."""
        return self.max_attempts(tid) + sum(d.grants for d in self.decisions(tid))


def _sha(inputs: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _ids(decisions: list[DecisionRecord]) -> list[str]:
    """What of each decision is an input: all of it but the time it was written."""
    return [_sha(d.model_dump(mode="json", exclude={"at"})) for d in decisions]


def _file_sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _drop_taskspecs_with_bad_profiles(project: Project) -> None:
    """A profile named in a TaskSpec that does not load is that TaskSpec's error (reported at
    its `agent.<role>` field, the TaskSpec left out like any invalid one); a broken profile
    chosen in hatchdoit.yaml stays a configuration error for the whole build."""
    plan = project.plan
    if project.config.agents.override:
        return  # the TaskSpecs' own choices are not used in this run
    for tid, loaded in list(plan.taskspecs.items()):
        for role in ROLES:
            if getattr(project.taskspec(tid).agent, role) is None:
                continue
            try:
                project.profile(tid, role)
            except ConfigError as exc:
                plan.errors.append(
                    SpecError(
                        f"{exc.message} ({exc.path})" if exc.path else exc.message,
                        path=loaded.path,
                        field=f"agent.{role}",
                        fix=exc.fix,
                    )
                )
                del plan.taskspecs[tid]
                break
    drop_dependents_of_missing(plan)


def check_review_from(root: Path, config: HatchdoitConfig) -> None:
    """`review_from: pr` makes the pull request the review: it needs `integrate: pr`, and a gate
    the pull request exists at. `review: after-qa` holds the TaskSpec before done.json, before
    its pull request is opened, so nothing would ever be reviewed: refused, not waited on."""
    if config.review_from != "pr":
        return
    path = root / CONFIG_FILE
    if config.integrate != "pr":
        raise ConfigError(
            f"review_from: pr needs integrate: pr (the pull request is the review); integrate "
            f"is {config.integrate}",
            path=path,
            fix="set integrate: pr, or review_from: hatchdoit (hatchdoit approve decides)",
        )
    if config.review == "after-qa":
        raise ConfigError(
            "review_from: pr cannot work with review: after-qa: that gate holds a TaskSpec "
            "before done.json, before its pull request is opened",
            path=path,
            fix="set review: before-integrate (the pull request's review decides), or "
            "review_from: hatchdoit",
        )


def _drop_taskspecs_gated_after_qa(project: Project) -> None:
    """Under `review_from: pr`, a TaskSpec's own `review: after-qa` is its error (see
    check_review_from): it is left out, as any invalid TaskSpec."""
    plan = project.plan
    if project.config.review_from != "pr":
        return
    for tid, loaded in list(plan.taskspecs.items()):
        if project.taskspec(tid).review == "after-qa":
            plan.errors.append(
                SpecError(
                    f"after-qa cannot work with {CONFIG_FILE}'s review_from: pr: the gate holds "
                    "the TaskSpec before its pull request is opened",
                    path=loaded.path,
                    field="review",
                    fix="set review: before-integrate, or remove it",
                )
            )
            del plan.taskspecs[tid]
    drop_dependents_of_missing(plan)


@cache
def load_project(root: Path) -> Project:
    """Load and cache the project at `root` (config errors raise; spec errors are collected)."""
    root = root.resolve()
    config = load_config(root)
    check_review_from(root, config)
    specs = (root / config.specs).absolute()
    cache = Layout(root, config.worktrees).parse_cache
    plan = load_plan(specs, cache=cache, planning=config.planning)
    project = Project(root=root, config=config, plan=plan)
    _drop_taskspecs_with_bad_profiles(project)
    _drop_taskspecs_gated_after_qa(project)
    return project
