"""A project: root, config, planning repo, profiles and input digests, loaded once per process."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import hatchdoit
from hatchdoit.agents.profiles import LoadedProfile, load_profile
from hatchdoit.agents.prompts import TEMPLATE_NAMES, template_path
from hatchdoit.config.loader import load_config
from hatchdoit.config.models import HatchdoitConfig
from hatchdoit.core.errors import ConfigError, SpecError
from hatchdoit.core.logs import Rotation, get_logger
from hatchdoit.layout import ROLES, Layout, Role
from hatchdoit.planning.dependencies import drop_dependents_of_missing
from hatchdoit.planning.plan import Plan, load_plan
from hatchdoit.planning.specs import TaskSpec

STOP_HOOK = ("agent", "stop_hook.sh")


def find_resources(root: Path) -> Path:
    """The directory holding `scripts/` and `agents/`: the project's own, else hatchdoit's."""
    for candidate in (root, Path(hatchdoit.__file__).resolve().parent.parent):
        if (candidate / "scripts" / Path(*STOP_HOOK)).is_file():
            return candidate
    raise ConfigError(
        "cannot find hatchdoit's scripts/ directory",
        path=root / "scripts",
        fix="run `hatchdoit init` in the project, or install hatchdoit from a source checkout",
    )


@dataclass
class Project:
    root: Path
    config: HatchdoitConfig
    resources: Path
    plan: Plan
    _profiles: dict[str, LoadedProfile] = field(default_factory=dict)
    _digests: dict[str, str] = field(default_factory=dict)
    _templates: dict[str, str] = field(default_factory=dict)

    @cached_property
    def layout(self) -> Layout:
        return Layout(self.root)

    @property
    def scripts_dir(self) -> Path:
        return self.resources / "scripts"

    @property
    def agents_dir(self) -> Path:
        own = self.root / "agents"
        return own if own.is_dir() else self.resources / "agents"

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
            self._profiles[name] = load_profile(self.agents_dir, name)
        return self._profiles[name]

    def _template_shas(self) -> dict[str, str]:
        """The prompt templates' hashes, read once per project load (every digest has them)."""
        if not self._templates:
            self._templates.update(
                (name, _file_sha(template_path(self.agents_dir, name))) for name in TEMPLATE_NAMES
            )
        return self._templates

    def digest(self, tid: str) -> str:
        """Digest of everything a TaskSpec's chain depends on, its dependencies' chains included."""
        if tid not in self._digests:
            spec = self.taskspec(tid)
            templates = self._template_shas()
            inputs = {
                "spec": self.plan.taskspecs[tid].source_sha256,
                "factory": self.profile(tid, "factory").sha256,
                "qa": self.profile(tid, "qa").sha256,
                "templates": templates,
                "max_attempts": self.max_attempts(tid),
                "target": str(self.config.target.repo),
                "integration_branch": self.config.target.integration_branch,
                "deps": {dep: self.digest(dep) for dep in spec.depends_on},
            }
            blob = json.dumps(inputs, sort_keys=True).encode()
            self._digests[tid] = hashlib.sha256(blob).hexdigest()
        return self._digests[tid]


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


@cache
def load_project(root: Path) -> Project:
    """Load and cache the project at `root` (config errors raise; spec errors are collected)."""
    root = root.resolve()
    config = load_config(root)
    resources = find_resources(root)
    plan = load_plan((root / config.specs).absolute(), cache=Layout(root).parse_cache)
    project = Project(root=root, config=config, resources=resources, plan=plan)
    _drop_taskspecs_with_bad_profiles(project)
    return project
