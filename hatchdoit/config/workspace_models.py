"""hatchdoit.yaml's `workspace:` (each worktree as a working environment of its own) and
`confinement:` (what agents and the commands run on their code may touch)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from hatchdoit.config.base import Strict, argv

DEFAULT_SETUP_INPUTS = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "requirements*.txt",
    "uv.lock",
    "poetry.lock",
    "package.json",
    "package-lock.json",
    "pnpm-lock.yaml",
    "yarn.lock",
    "go.mod",
    "go.sum",
    "Cargo.toml",
    "Cargo.lock",
)


class WorkspaceConfig(Strict):
    """Each TaskSpec's worktree as a working environment of its own (README: Your project's
    environment)."""

    setup: list[list[str]] = Field(
        default_factory=list,
        description="argv commands run in each new worktree after it is made, and in the "
        "integration worktree before post-merge tests (never through a shell unless you write "
        "`[bash, -c, ...]`); rerun only when they or `setup_inputs` change (empty: none)",
    )
    setup_timeout: float = Field(
        default=1800.0, gt=0, description="Seconds the setup commands may take together"
    )
    setup_inputs: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SETUP_INPUTS),
        description="Globs of the files the setup reads (matched at any depth, so monorepos "
        "work): a change to one reruns the setup of that worktree",
    )
    path: list[str] | None = Field(
        default=None,
        description="Worktree-relative directories put first on the agent's and the test "
        "commands' PATH (unset: `.venv/bin` and `node_modules/.bin` where they exist)",
    )
    copy_files: list[str] = Field(
        default_factory=list,
        alias="copy",
        description="Paths copied from the main checkout into each new worktree (`.env`, local "
        "config); never committed or pushed",
    )
    remove_delivered: bool = Field(
        default=True,
        description="Remove a TaskSpec's worktree (and its environment) once its work is "
        "delivered; its branch, receipts and logs stay",
    )

    @field_validator("setup", mode="before")
    @classmethod
    def _split_each(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [argv(item) for item in value]
        return value


class ConfinementConfig(Strict):
    """How agents and the commands run on their code are confined (README: What an agent can
    touch)."""

    mode: Literal["auto", "required", "off"] = Field(
        default="auto",
        description="auto: confined wherever this machine allows it (a local doit warns once "
        "when it cannot, `hatchdoit ci` refuses); required: refuse to run unconfined; off: "
        "never confine",
    )
    deny_read: list[str] = Field(
        default_factory=list,
        description="Paths (~ allowed) a confined process may not read, besides the usual "
        "credential stores",
    )
    allow_read: list[str] = Field(
        default_factory=list,
        description="Paths taken out of the denied reads (a credential store a test needs)",
    )
    agent_network: Literal["provider", "registries"] = Field(
        default="provider",
        description="Hosts an agent reaches: its provider's only, or also the package registries",
    )
    test_network: Literal["none", "registries", "any"] = Field(
        default="none", description="Hosts the test commands reach"
    )
