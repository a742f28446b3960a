"""hatchdoit.yaml: pydantic-validated, with environment overlays and environment-variable overrides.

Precedence, lowest first: built-in defaults, the file, `environments.<HATCHDOIT_ENV>` in the file,
`HATCHDOIT__SECTION__KEY=value` variables, then the shortcuts HATCHDOIT_AGENT and HATCHDOIT_SPECS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hatchdoit.errors import ConfigError

CONFIG_FILE = "hatchdoit.yaml"
ENV_PREFIX = "HATCHDOIT__"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleLimits(_Strict):
    wall_timeout: float = Field(default=3600.0, gt=0, description="Seconds an agent run may take")
    idle_timeout: float = Field(
        default=600.0, gt=0, description="Seconds without pane output before an agent is hung"
    )
    ready_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for readiness")


class QaLimits(RoleLimits):
    wall_timeout: float = Field(default=1800.0, gt=0, description="Seconds a QA run may take")


class Backoff(_Strict):
    base: float = Field(default=2.0, ge=0, description="Delay before the 2nd attempt after a fault")
    factor: float = Field(default=2.0, ge=1)
    max: float = Field(default=120.0, ge=0)
    jitter: float = Field(default=0.2, ge=0, le=1, description="Fraction of random spread")


class Limits(_Strict):
    parallel_sessions: int = Field(default=4, ge=1, description="Agent sessions alive at once")
    max_attempts: int = Field(default=3, ge=1, le=20)
    factory: RoleLimits = Field(default_factory=RoleLimits)
    qa: QaLimits = Field(default_factory=QaLimits)
    summary_injections: int = Field(default=2, ge=0, description="Summary prompts after a stop")
    submit_retries: int = Field(default=3, ge=1, description="Enter presses to submit a prompt")
    submit_timeout: float = Field(default=5.0, gt=0, description="Seconds to confirm a submit")
    test_timeout: float = Field(default=900.0, gt=0)
    poll_interval: float = Field(default=0.5, gt=0, description="Backup poll behind inotify")
    backoff: Backoff = Field(default_factory=Backoff)


class AgentDefaults(_Strict):
    factory: str = "scripted"
    qa: str = "scripted"


class TargetConfig(_Strict):
    repo: str = Field(default=".", description="Git repo the agents work on, relative to root")
    seed: str | None = Field(
        default=None, description="Directory copied into a new repo when `repo` does not exist"
    )
    integration_branch: str | None = Field(
        default=None, description="Branch worktrees start from; default: the repo's current one"
    )


class LogConfig(_Strict):
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


class NotifyConfig(_Strict):
    command: list[str] = Field(
        default_factory=list,
        description="argv run with a JSON payload on stdin when a TaskSpec escalates or a build "
        "fails (empty: no notifications)",
    )
    events: list[Literal["escalated", "build_failed"]] = Field(
        default_factory=lambda: ["escalated", "build_failed"],  # type: ignore[arg-type]
        description="Which events run the command",
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds the command may take")


class HatchdoitConfig(_Strict):
    specs: str = Field(default="specs_link", description="Planning repo (read-only)")
    target: TargetConfig = Field(default_factory=TargetConfig)
    integrate: Literal["none", "merge", "rebase"] = "none"
    tmux_socket: str = Field(default="hatchdoit", pattern=r"^[A-Za-z0-9_.-]+$")
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


def load_config(root: Path, environ: Mapping[str, str] | None = None) -> HatchdoitConfig:
    """Read `root/hatchdoit.yaml` (optional) and apply overlays and overrides."""
    env = os.environ if environ is None else environ
    path = root / CONFIG_FILE
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read: {exc}", path=path, fix="fix the YAML") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("must be a mapping", path=path, fix="write 'key: value' lines")
        data = loaded or {}
    env_name = env.get("HATCHDOIT_ENV")
    if env_name:
        overlays = data.get("environments") or {}
        if not isinstance(overlays, dict) or not isinstance(overlays.get(env_name) or {}, dict):
            raise ConfigError(
                "environments must map names to mappings of settings",
                path=path,
                field=f"environments.{env_name}",
                fix="write e.g. environments: {ci: {limits: {max_attempts: 2}}}",
            )
        if env_name not in overlays and env_name not in ("dev", "ci", "prod"):
            raise ConfigError(
                f"HATCHDOIT_ENV={env_name!r} has no overlay",
                path=path,
                field="environments",
                fix=f"add environments.{env_name} or use one of "
                f"{sorted(overlays) or 'dev/ci/prod'}",
            )
        data = _deep_merge(data, overlays.get(env_name) or {})
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
            if not parts:
                continue
            try:
                parsed = yaml.safe_load(value) if value else value
            except yaml.YAMLError:
                raise ConfigError(
                    f"value {value!r} is not valid YAML",
                    path=key,
                    fix="quote the value, e.g. " + key + "='\"" + value + "\"'",
                ) from None
            data = _deep_merge(data, _nested(parts, parsed))
    if env.get("HATCHDOIT_AGENT"):
        data = _deep_merge(
            data, {"agents": {"factory": env["HATCHDOIT_AGENT"], "qa": env["HATCHDOIT_AGENT"]}}
        )
    if env.get("HATCHDOIT_SPECS"):
        data = _deep_merge(data, {"specs": env["HATCHDOIT_SPECS"]})
    try:
        return HatchdoitConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(
            f"{err['msg']}{more}", path=path, field=loc, fix="see docs for the allowed values"
        ) from exc


def _nested(parts: list[str], value: Any) -> dict[str, Any]:
    result: Any = value
    for part in reversed(parts):
        result = {part: result}
    return dict(result)


def _deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
