"""Loading hatchdoit.yaml: pydantic-validated, with environment overlays and environment-variable
overrides.

Precedence, lowest first: built-in defaults, the file, `environments.<HATCHDOIT_ENV>` in the file,
`HATCHDOIT__SECTION__KEY=value` variables, then the shortcuts HATCHDOIT_AGENT and HATCHDOIT_SPECS.
A bad value is reported where it was set: the variable, or the file and its overlay.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from hatchdoit.config.models import HatchdoitConfig
from hatchdoit.core.errors import ConfigError
from hatchdoit.layout import Layout

CONFIG_FILE = "hatchdoit.yaml"
ENV_PREFIX = "HATCHDOIT__"
STANDARD_ENVS = ("dev", "ci", "prod")  # HATCHDOIT_ENV values that need no overlay


# libyaml's parser where PyYAML was built with it (planning/frontmatter.py reads the specs with
# it too): the same safe subset, ~5x faster than the pure-Python one on every build's start.
_FAST_SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """yaml.safe_load, with libyaml where PyYAML has it."""
    return yaml.load(text, Loader=_FAST_SAFE)  # a safe loader, C or Python


def load_config(root: Path, environ: Mapping[str, str] | None = None) -> HatchdoitConfig:
    """Read `root/hatchdoit.yaml` (optional) and apply overlays and overrides."""
    env = os.environ if environ is None else environ
    path = root / CONFIG_FILE
    layers = _Layers(path)
    if path.exists():
        try:
            loaded = load_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read: {exc}", path=path, fix="fix the YAML") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("must be a mapping", path=path, fix="write 'key: value' lines")
        layers.apply(loaded or {}, _Source("file", str(path)))
    env_name = env.get("HATCHDOIT_ENV")
    if env_name:
        layers.apply(_overlay(layers.data, env_name, path), _Source("overlay", env_name))
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
            if not parts:
                continue
            try:
                parsed = load_yaml(value) if value else value
            except yaml.YAMLError:
                raise ConfigError(
                    f"value {value!r} is not valid YAML",
                    path=key,
                    fix="quote the value, e.g. " + key + "='\"" + value + "\"'",
                ) from None
            layers.apply(_nested(parts, parsed), _Source("variable", key))
    if env.get("HATCHDOIT_AGENT"):
        agent = env["HATCHDOIT_AGENT"]
        layers.apply(
            {"agents": {"factory": agent, "qa": agent, "override": agent}},
            _Source("variable", "HATCHDOIT_AGENT"),
        )
    if env.get("HATCHDOIT_SPECS"):
        layers.apply({"specs": env["HATCHDOIT_SPECS"]}, _Source("variable", "HATCHDOIT_SPECS"))
    try:
        config = HatchdoitConfig.model_validate(layers.data)
    except ValidationError as exc:
        raise layers.error(exc) from exc
    if not config.tmux_socket:  # unset: the project's own, derived from its root
        layout = Layout(root, config.worktrees)
        config = config.model_copy(update={"tmux_socket": layout.default_socket})
    return config


def _overlay(data: Mapping[str, Any], env_name: str, path: Path) -> dict[str, Any]:
    """`environments.<env_name>` of the file ({} for a standard name without one)."""
    overlays = data.get("environments") or {}
    if not isinstance(overlays, dict) or not isinstance(overlays.get(env_name) or {}, dict):
        raise ConfigError(
            "environments must map names to mappings of settings",
            path=path,
            field=f"environments.{env_name}",
            fix="write e.g. environments: {ci: {limits: {max_attempts: 2}}}",
        )
    if env_name not in overlays and env_name not in STANDARD_ENVS:
        accepted = [*STANDARD_ENVS, *sorted(set(overlays) - set(STANDARD_ENVS))]
        raise ConfigError(
            f"HATCHDOIT_ENV={env_name!r} names no overlay",
            path=path,
            field="environments",
            fix=f"use one of: {', '.join(accepted)}; "
            f"or add environments.{env_name} to {CONFIG_FILE}",
        )
    return dict(overlays.get(env_name) or {})


@dataclass(frozen=True)
class _Source:
    """Where a setting came from: the file, its `environments.<name>` overlay, or a variable."""

    kind: Literal["file", "overlay", "variable"]
    name: str  # the file's path, the overlay's name, the variable's name


@dataclass
class _Layers:
    """The settings merged layer by layer, remembering which layer set each key."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[tuple[str, ...], _Source] = field(default_factory=dict)

    def apply(self, overlay: Mapping[str, Any], source: _Source) -> None:
        self.data = deep_merge(self.data, overlay)
        for keys, value in _key_paths(overlay):
            if not isinstance(value, Mapping):  # replaces whatever was below it
                for older in [k for k in self.origins if k[: len(keys)] == keys]:
                    del self.origins[older]
            self.origins[keys] = source

    def source_of(self, loc: tuple[str, ...]) -> _Source:
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.origins:
                return self.origins[loc[:n]]
        return _Source("file", str(self.path))

    def error(self, exc: ValidationError) -> ConfigError:
        """The first problem, named where it was set and with the value it needs."""
        errors = exc.errors()
        first = errors[0]
        loc = tuple(str(p) for p in first["loc"])
        source = self.source_of(loc)
        key = ".".join(loc)
        other_locs = [tuple(str(p) for p in e["loc"]) for e in errors[1:]]
        others = [f"{'.'.join(o)} {_where(self.source_of(o))}" for o in other_locs]
        more = f" (and {len(others)} more: {'; '.join(others)})" if others else ""
        got = repr(first.get("input"))
        got = got if len(got) <= 60 else got[:57] + "..."
        extra = first["type"] == "extra_forbidden"
        where = "" if source.kind == "file" else f" {_where(source)}"
        message = f"{first['msg']}{'' if extra else f', got {got}'}{where}{more}"
        needed = _expected(loc)
        if source.kind == "variable":
            fix = f"unset {source.name}" if extra else f"set {source.name} to {needed}; or unset it"
            return ConfigError(message, path=source.name, field=key, fix=fix)
        if source.kind == "overlay":
            key = f"environments.{source.name}.{key}"
        fix = (
            f"remove {key} from {CONFIG_FILE}"
            if extra
            else f"change {key} in {CONFIG_FILE} to {needed}"
        )
        if extra:
            fix += f" ({_known_keys(loc[:-1])})"
        return ConfigError(message, path=self.path, field=key, fix=fix)


def _where(source: _Source) -> str:
    if source.kind == "variable":
        return f"(set by the environment variable {source.name})"
    if source.kind == "overlay":
        return f"(set by environments.{source.name}, chosen by HATCHDOIT_ENV={source.name})"
    return f"(set in {source.name})"


def _key_paths(
    data: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in data.items():
        keys = (*prefix, str(key))
        yield keys, value
        if isinstance(value, Mapping):
            yield from _key_paths(value, keys)


def _fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by the key hatchdoit.yaml writes (its alias, where it has one)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _field(loc: tuple[str, ...]) -> FieldInfo | None:
    """The model field at `loc`, None past the models (free-form mappings) or for unknown keys."""
    model: type[BaseModel] | None = HatchdoitConfig
    info = None
    for part in loc:
        fields = {} if model is None else _fields_by_key(model)
        if part not in fields:
            return None
        info = fields[part]
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            model = None
    return info


def _expected(loc: tuple[str, ...]) -> str:
    """What the field at `loc` accepts, e.g. `an integer >= 1 and <= 20`."""
    info = _field(loc)
    if info is None:
        return "a value the configuration reference (docs/configuration.md) allows"
    limits = []
    for item in info.metadata:
        for attr, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                limits.append(f"{word} {getattr(item, attr)}")
        if getattr(item, "pattern", None):
            limits.append(f"matching {item.pattern}")
    return " ".join([_kind(info.annotation), " and ".join(limits)]).strip()


def _kind(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(a) for a in args)
    if origin is list:
        return "a list"
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "a mapping"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(annotation, "null" if annotation is type(None) else str(annotation))


def _known_keys(section: tuple[str, ...]) -> str:
    if not section:
        return "known keys: " + ", ".join(HatchdoitConfig.model_fields)
    info = _field(section)
    annotation = info.annotation if info is not None else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"{'.'.join(section)} takes: " + ", ".join(_fields_by_key(annotation))
    return "see docs/configuration.md"


def _nested(parts: list[str], value: Any) -> dict[str, Any]:
    result: Any = value
    for part in reversed(parts):
        result = {part: result}
    return dict(result)


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
