"""Agent profiles (`agents/<name>.yaml`): how to launch an agent CLI and how it signals a stop."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hatchdoit.errors import ConfigError


class Readiness(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["marker", "none"] = Field(
        default="marker", description="marker: the agent or its hook writes the ready file"
    )


class AgentProfile(BaseModel):
    """One agent CLI. argv/env values are templates: {python} {agents_dir} {scripts_dir} {role}
    {worktree} {prompt_file} {taskspec_id} {attempt} {settings_file} {param_<name>}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    prompt_delivery: Literal["paste", "argv", "file"] = "paste"
    stop_signal: Literal["hook", "exit"] = "hook"
    readiness: Readiness = Field(default_factory=Readiness)
    submit_confirm: Literal["marker", "none"] = "marker"
    interactive: bool = Field(default=True, description="Stays open after a stop (a TUI)")


class LoadedProfile(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    profile: AgentProfile
    path: Path
    sha256: str


def load_profile(agents_dir: Path, name: str) -> LoadedProfile:
    """Load `agents_dir/<name>.yaml`; unknown names and invalid files are ConfigErrors."""
    path = agents_dir / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in agents_dir.glob("*.yaml"))
        raise ConfigError(
            f"unknown agent profile {name!r}",
            path=path,
            fix=f"use one of: {', '.join(known) or '(none found)'}",
        )
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
        profile = AgentProfile.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=path, fix="fix the YAML") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(
            err["msg"], path=path, field=".".join(map(str, err["loc"])), fix="see agents/README"
        ) from exc
    if profile.name != name:
        raise ConfigError(
            f"name {profile.name!r} differs from the file name",
            path=path,
            field="name",
            fix=f"set name: {name}",
        )
    return LoadedProfile(profile=profile, path=path, sha256=hashlib.sha256(raw).hexdigest())


def render(template: str, values: dict[str, str], where: Path) -> str:
    """Fill `{placeholders}`; an unknown one is a ConfigError naming the profile file."""
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError) as exc:
        raise ConfigError(
            f"bad placeholder in {template!r}: {exc}",
            path=where,
            fix=f"use only {{{'}, {'.join(sorted(values))}}}",
        ) from exc
