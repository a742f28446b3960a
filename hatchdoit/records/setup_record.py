"""The record of a workspace's setup (steps/workspace_setup.py): `_logs/state/<ID>/setup.json`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hatchdoit.core.clock import now_iso
from hatchdoit.records.models import TestRun


class SetupRecord(BaseModel):
    """A workspace's setup (`workspace.setup`): run in the worktree after it is made (attempt
    0), or again on attempt k's commit when that commit changed the setup's inputs."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    taskspec_id: str
    attempt: int = Field(default=0, ge=0)
    digest: str = Field(description="The setup commands and the contents of its input files")
    runs: list[TestRun] = Field(default_factory=list, description="One per command run")
    passed: bool
    failure: str | None = Field(default=None, description="The one line that says what failed")
    log: str
    at: str = Field(default_factory=now_iso)
