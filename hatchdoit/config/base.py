"""The base of every hatchdoit.yaml section: unknown keys are errors, values are frozen."""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def argv(value: Any) -> Any:
    """An argv given as one string is split like a shell would (it is never run by a shell)."""
    return shlex.split(value) if isinstance(value, str) else value
