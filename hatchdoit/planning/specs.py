"""FeatSpec and TaskSpec models: the planning repo's records, validated by pydantic."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_ID_RE = re.compile(ID_PATTERN)

FactoryBehaviour = Literal[
    "succeed",
    "fail-tests",
    "exceed-loc",
    "skip-summary",
    "malformed-summary",
    "never-summary",
    "hang",
    "crash",
    "no-commit",
    "resolve-conflicts",
    "edit-plan",
    "move-branch",
    "forge-decision",
    "plant-git",
]
QaBehaviour = Literal["approve", "reject", "reject-once", "approve-and-edit"]


def check_id(value: str) -> str:
    """Ids become file names, branch names (`taskspec/<id>`) and tmux session names: keep them
    plain, and within what `git check-ref-format` accepts."""
    if not _ID_RE.fullmatch(value) or ".." in value or value.endswith((".", ".lock")):
        raise ValueError(
            "must be 1-128 characters of letters, digits, '.', '_' or '-', "
            "start with a letter or digit, not contain '..', and not end with '.' or '.lock'"
        )
    return value


class SpecBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str = Field(description="Unique id, e.g. 001-TS-2025-08-18-JWT-MIDDLEWARE")
    title: str = Field(min_length=1)
    kind: Literal["featspec", "taskspec"] | None = None
    body: str = Field(default="", description="Markdown body (the work description)")

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return check_id(value)


class FeatSpec(SpecBase):
    """A feature: groups TaskSpecs for rollup."""

    status: str | None = None
    owner: str | None = None


class AgentChoice(BaseModel):
    """Agent profiles for the two roles; None means the configured default."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    factory: str | None = None
    qa: str | None = None


class ScriptedPlan(BaseModel):
    """What the bundled scripted agent does, per attempt (the last entry repeats)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    factory: list[FactoryBehaviour] = Field(default_factory=lambda: ["succeed"], min_length=1)  # type: ignore[arg-type]
    qa: QaBehaviour = "approve"

    @field_validator("factory", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def factory_for(self, attempt: int) -> FactoryBehaviour:
        return self.factory[min(attempt, len(self.factory)) - 1]


# The defaults of every TaskSpec that does not set them: one frozen instance each, made
# without validation (constructing them per TaskSpec was ~40% of validating a TaskSpec).
_NO_AGENT_CHOICE = AgentChoice.model_construct()
_DEFAULT_SCRIPTED_PLAN = ScriptedPlan.model_construct()


class TaskSpec(SpecBase):
    """One unit of agent work: a build target."""

    featspec: str = Field(description="Id of the FeatSpec this TaskSpec belongs to")
    loc_cap: int = Field(gt=0, description="Maximum lines added versus the base commit")
    test_command: list[str] = Field(
        min_length=1, description="argv run in the worktree; a string is split like a shell would"
    )
    depends_on: list[str] = Field(default_factory=list)
    agent: AgentChoice = Field(default_factory=lambda: _NO_AGENT_CHOICE)
    max_attempts: int | None = Field(default=None, ge=1, le=20)
    test_timeout: float | None = Field(default=None, gt=0)
    review: Literal["none", "after-qa", "before-integrate"] | None = Field(
        default=None, description="Where it waits for a person's review (hatchdoit.yaml's review)"
    )
    scripted: ScriptedPlan = Field(default_factory=lambda: _DEFAULT_SCRIPTED_PLAN)
    # What a foreign plan (spec-kit, Task Master, Kiro; planning/formats/) says beyond the work
    # description. A `_specs/` file may set them too (docs/planning-formats.md). Tuples: the
    # defaults are shared, never built per TaskSpec.
    acceptance: tuple[str, ...] = Field(
        default=(), description="Acceptance criteria, in the factory's and QA's prompts"
    )
    files: tuple[str, ...] = Field(default=(), description="Files the work names, to touch")
    source: str | None = Field(
        default=None, description="Where a foreign plan defines it: file:line, from the repo root"
    )
    inferred_deps: tuple[str, ...] = Field(
        default=(), description="Which of depends_on come from the plan's order, not its text"
    )
    plan_status: Literal["done", "skipped"] | None = Field(
        default=None,
        description="done: finished in the plan, not built, a satisfied dependency; skipped: "
        "cancelled, deferred or optional in the plan, not built, its dependents build anyway",
    )
    plan_note: str | None = Field(default=None, description="Why, as `hatchdoit plan` shows it")
    body: str = Field(
        default="", validate_default=True, description="Markdown body: the work description"
    )

    @field_validator("body")
    @classmethod
    def _has_work(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty, yet it is the work description handed to the agent")
        return value

    @field_validator("test_command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        if isinstance(value, str):
            return shlex.split(value)
        return value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _deps_list(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("depends_on")
    @classmethod
    def _check_deps(cls, value: list[str]) -> list[str]:
        for dep in value:
            check_id(dep)
        if len(set(value)) != len(value):
            raise ValueError("lists the same id twice")
        return value


@dataclass(frozen=True)
class LoadedSpec:
    """A spec with where it came from and the digest of its source bytes. A plain dataclass:
    it is made from a spec just validated and never crosses a file boundary, and building it
    as a pydantic model was ~10% of loading a 1000-TaskSpec plan."""

    spec: TaskSpec | FeatSpec
    path: Path
    source_sha256: str
