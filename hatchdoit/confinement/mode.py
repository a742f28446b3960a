"""`confinement: auto | required | off` and this machine: is this build confined, or refused?

- off: never confined.
- required: confined, or the build refuses with one line.
- auto: confined where the machine allows it; where not, a local `doit` runs unconfined (one WARN
  line per build, build/graph.py) and `hatchdoit ci` refuses (a CI job must not run agents
  unconfined unless the config says `off`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import cache
from typing import Literal

from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.availability import Availability, availability
from hatchdoit.core.errors import ConfigError

CI_ENV = "HATCHDOIT_CI"  # set by `hatchdoit ci` for its doit runs (observe/notify.py's name)


@dataclass(frozen=True)
class Decision:
    """What is in force for this build."""

    mode: Literal["auto", "required", "off"]
    confined: bool
    reason: str
    fix: str = ""

    @property
    def label(self) -> str:
        """`confined`, `unconfined` or `off`: what status, the report and the audit show."""
        if self.mode == "off":
            return "off"
        return "confined" if self.confined else "unconfined"

    def as_record(self) -> dict[str, object]:
        return {**asdict(self), "label": self.label}

    def warning(self) -> str:
        return (
            f"WARN: agents and tests run UNCONFINED in this build: {self.reason} "
            f"(fix: {self.fix}; or set `confinement: off` to silence this)"
        )


def in_ci() -> bool:
    return os.environ.get(CI_ENV) == "1"


def decide(
    config: ConfinementConfig, *, ci: bool | None = None, found: Availability | None = None
) -> Decision:
    """The decision for `config` on this machine; a refusal raises ConfigError (one line)."""
    mode = config.mode
    if mode == "off":
        return Decision("off", False, "confinement: off in hatchdoit.yaml")
    found = found if found is not None else availability()
    if found.available:
        return Decision(mode, True, found.reason)
    ci = in_ci() if ci is None else ci
    if mode == "required" or ci:
        why = "confinement: required" if mode == "required" else "`hatchdoit ci` under auto"
        raise ConfigError(
            f"cannot confine agents here ({found.reason}); {why} refuses to run unconfined",
            field="confinement",
            fix=f"{found.fix}; `hatchdoit doctor` shows it (or set `confinement: off`)",
        )
    return Decision(mode, False, found.reason, found.fix)


@cache
def _decided(mode: str, ci: bool, srt: str) -> Decision:
    return decide(ConfinementConfig(mode=mode), ci=ci)  # type: ignore[arg-type]


def build_decision(config: ConfinementConfig) -> Decision:
    """decide(), once per process (doit's forked workers inherit it from the build's start)."""
    from hatchdoit.confinement.srt import srt_binary

    return _decided(config.mode, in_ci(), str(srt_binary()))
