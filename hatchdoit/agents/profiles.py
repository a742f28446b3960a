"""Agent profiles (`agents/<name>.yaml`): how to launch an agent CLI and how it signals a stop."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hatchdoit.config.loader import load_yaml
from hatchdoit.core.errors import ConfigError

_WHOLE_PLACEHOLDER = re.compile(r"^\{(param_[A-Za-z0-9_]+)\}$")


class Readiness(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: Literal["marker", "none"] = Field(
        default="marker", description="marker: the agent or its hook writes the ready file"
    )
    screen: str | None = Field(
        default=None,
        description="Regex the pane must show before the first prompt is pasted (a TUI's input "
        "line): a start-up hook can fire before the TUI reads its keyboard",
    )

    @field_validator("screen")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class Executable(BaseModel):
    """The agent CLI's binary: `$<env>` when set, else `<default>` looked up on PATH."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    default: str = Field(min_length=1)
    env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    version_args: list[str] = Field(default_factory=lambda: ["--version"])
    install_hint: str = ""


class ArgOption(BaseModel):
    """Arguments added when a parameter is set (truthy), or with `when: "!name"` when it is not."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    when: str = Field(pattern=r"^!?[A-Za-z0-9_]+$")
    args: list[str] = Field(min_length=1)

    def applies(self, params: Mapping[str, Any]) -> bool:
        name = self.when.lstrip("!")
        return bool(params.get(name)) != self.when.startswith("!")


class AgentProfile(BaseModel):
    """One agent CLI. argv/env values are templates: {python} {agents_dir} (the directory the
    profile was loaded from) {scripts_dir} {role}
    {worktree} {prompt_file} {taskspec_id} {attempt} {param_<name>}, and from agent_setup {bin}
    {settings_file} {logs_dir} {output_dir} {prompt_dir} {run_dir} {stream_log}. An argv item
    that is exactly `{param_<name>}` of a list parameter expands to one item per element; the
    item `{options}` marks where the `options` go (default: the end)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str
    description: str = ""
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    prompt_delivery: Literal["paste", "argv", "file"] = "paste"
    stop_signal: Literal["hook", "exit"] = "hook"
    readiness: Readiness = Field(default_factory=Readiness)
    submit_confirm: Literal["marker", "none"] = "marker"
    interactive: bool = Field(default=True, description="Stays open after a stop (a TUI)")
    executable: Executable | None = Field(default=None, description="Fills {bin}")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Defaults of {param_<name>}; hatchdoit.yaml agent_params.<profile> overrides",
    )
    options: list[ArgOption] = Field(default_factory=list)
    setup: Literal["none", "claude", "codex"] = Field(
        default="none",
        description="Per-session seeding by hatchdoit/agents/setup.py: claude writes a --settings "
        "file with hooks and a config home; codex wires notify to the stop hook",
    )
    env_passthrough: list[str] = Field(
        default_factory=list,
        description="Variables copied from hatchdoit's environment into the session "
        "(NAME, or PREFIX* for all names starting with PREFIX)",
    )
    provider: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_.-]*$",
        description="Whose API the CLI calls (anthropic, openai, ...): profiles of one provider "
        "share its circuit breaker; empty: the profile's own name",
    )
    fault_signals: Literal["claude", "codex", "generic"] = Field(
        default="generic",
        description="Whose table of provider-fault signals reads its stream, hooks and screen "
        "(providers/fault_tables.py); generic: a stop-failure payload's `kind`",
    )
    stop_guard: int = Field(
        default=0,
        ge=0,
        le=10,
        description="How often a Claude Stop hook may block a stop while the summary (factory) "
        "or verdict (qa) is missing or invalid; 0 = never",
    )


class LoadedProfile(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    profile: AgentProfile
    path: Path
    sha256: str


def first_found(dirs: Sequence[Path], rel: str) -> Path:
    """`dir/rel` in the first of `dirs` that has it (the project's own agents dir before the
    bundled one), else in the last: the path an error names."""
    for directory in dirs:
        if (directory / rel).is_file():
            return directory / rel
    return dirs[-1] / rel


def profile_names(dirs: Sequence[Path]) -> list[str]:
    """Every profile name the agents dirs offer."""
    return sorted({p.stem for directory in dirs for p in directory.glob("*.yaml")})


def load_profile(dirs: Sequence[Path], name: str) -> LoadedProfile:
    """Load `<name>.yaml` from the first of `dirs` that has it; unknown names and invalid files
    are ConfigErrors."""
    path = first_found(dirs, f"{name}.yaml")
    if not path.is_file():
        raise ConfigError(
            f"unknown agent profile {name!r}",
            path=path,
            fix=f"use one of: {', '.join(profile_names(dirs)) or '(none found)'}",
        )
    raw = path.read_bytes()
    try:
        data = load_yaml(raw)
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


def merged_params(profile: AgentProfile, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's parameter defaults with hatchdoit.yaml's `agent_params.<profile>` on top."""
    return {**profile.params, **overrides}


def param_values(params: Mapping[str, Any]) -> dict[str, str]:
    """`{param_<name>}` values of scalar parameters (lists expand in `render_argv` only)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, bool):
            out[f"param_{key}"] = "true" if value else "false"
        elif value is None:
            out[f"param_{key}"] = ""
        else:
            out[f"param_{key}"] = str(value)
    return out


def _expand(
    items: list[str], values: dict[str, str], params: Mapping[str, Any], where: Path
) -> list[str]:
    out: list[str] = []
    for item in items:
        whole = _WHOLE_PLACEHOLDER.match(item)
        name = whole.group(1)[len("param_") :] if whole else ""
        value = params.get(name) if whole else None
        if whole and name in params and (value is None or value == []):
            raise ConfigError(
                f"parameter {name!r} is required and not set",
                path=where,
                field=f"params.{name}",
                fix=f"set agent_params.{where.stem}.{name} in hatchdoit.yaml",
            )
        if isinstance(value, list | tuple):
            out.extend(render(str(v), values, where) for v in value)
        else:
            out.append(render(item, values, where))
    return out


def render_argv(
    profile: AgentProfile, values: dict[str, str], params: Mapping[str, Any], where: Path
) -> list[str]:
    """The profile's argv with its applicable options, every item rendered."""
    options = [arg for option in profile.options if option.applies(params) for arg in option.args]
    items = list(profile.argv)
    if "{options}" in items:
        at = items.index("{options}")
        items[at : at + 1] = options
    else:
        items.extend(options)
    return _expand(items, {**param_values(params), **values}, params, where)
