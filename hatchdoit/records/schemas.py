"""Exported JSON Schemas and validation of agent-written files against them."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from hatchdoit.config.models import HatchdoitConfig
from hatchdoit.core.atomicio import write_json_atomic
from hatchdoit.planning.specs import FeatSpec, TaskSpec
from hatchdoit.records.models import (
    BudgetRecord,
    ChecksRecord,
    DecisionRecord,
    DoneRecord,
    EscalatedRecord,
    IntegrationRecord,
    LaunchRecord,
    PausedRecord,
    ProviderState,
    Receipt,
    StopRecord,
    SummaryRecord,
    VerdictRecord,
    WorktreeRecord,
)
from hatchdoit.records.setup_record import SetupRecord

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "taskspec": TaskSpec,
    "featspec": FeatSpec,
    "config": HatchdoitConfig,
    "worktree": WorktreeRecord,
    "launch": LaunchRecord,
    "stop": StopRecord,
    "summary": SummaryRecord,
    "checks": ChecksRecord,
    "verdict": VerdictRecord,
    "receipt": Receipt,
    "done": DoneRecord,
    "escalated": EscalatedRecord,
    "decision": DecisionRecord,
    "integration": IntegrationRecord,
    "paused": PausedRecord,
    "provider": ProviderState,
    "budget": BudgetRecord,
    "setup": SetupRecord,
}

M = TypeVar("M", bound=BaseModel)


# pydantic reads a JSON integer of any size into an int, but a number written with a fraction or
# an exponent (9.3e18) only inside the signed 64-bit range, while JSON Schema's "integer" takes
# any whole number. Exported integers are bounded to that range, so that a file the schema
# accepts is never refused by the model.
INT_LIMIT = 2**63 - 1


class _SchemaGenerator(GenerateJsonSchema):
    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        out = super().int_schema(schema)
        out["maximum"] = min(out.get("maximum", INT_LIMIT), INT_LIMIT)
        out["minimum"] = max(out.get("minimum", -INT_LIMIT), -INT_LIMIT)
        return out


@cache
def schema_for(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema hatchdoit exports and validates agent-written files against."""
    return model.model_json_schema(schema_generator=_SchemaGenerator)


@cache
def _validator(model: type[BaseModel]) -> Any:
    import jsonschema  # only invalid files get here: keep it out of every process's start-up

    schema = schema_for(model)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def export_schemas(out_dir: Path) -> list[Path]:
    """Write one `<name>.schema.json` per model."""
    written = []
    for name, model in SCHEMA_MODELS.items():
        path = out_dir / f"{name}.schema.json"
        write_json_atomic(path, schema_for(model))
        written.append(path)
    return written


class InvalidArtifact(ValueError):
    """A file that is missing, unparsable or does not match its schema."""


def read_file(path: Path | str) -> bytes:
    """A file's bytes through os-level calls: open, read to the end, close (Python's open()
    adds an fstat, an isatty ioctl and buffer objects; status reads a file per TaskSpec)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def load_valid(path: Path | str, model: type[M]) -> M:
    """Parse `path`, check it against the model's JSON Schema, return the model instance
    (see parse_valid)."""
    try:
        raw = read_file(path)
    except FileNotFoundError as exc:
        raise InvalidArtifact(f"{path}: missing") from exc
    except OSError as exc:
        raise InvalidArtifact(f"{path}: not valid JSON ({exc})") from exc
    return parse_valid(raw, path, model)


def parse_valid(raw: bytes, path: Path | str, model: type[M]) -> M:
    """Check the bytes read from `path` against the model's JSON Schema, return the instance.

    pydantic's strict JSON validation of the model accepts exactly what its JSON Schema (made
    from the same model) accepts, in compiled code: a valid file is returned from there. Only
    a file it rejects goes through jsonschema, whose message names the offending field."""
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError:
        pass
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidArtifact(f"{path}: not valid JSON ({exc})") from exc
    errors = sorted(_validator(model).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(top level)"
        raise InvalidArtifact(f"{path}: {where}: {first.message}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidArtifact(f"{path}: {exc.errors()[0]['msg']}") from exc


def try_load(path: Path | str, model: type[M]) -> M | None:
    """Like load_valid, but None for anything invalid."""
    try:
        return load_valid(path, model)
    except InvalidArtifact:
        return None


def try_parse(raw: bytes, path: Path | str, model: type[M]) -> M | None:
    """Like parse_valid, but None for anything invalid."""
    try:
        return parse_valid(raw, path, model)
    except InvalidArtifact:
        return None


def handover_problem(
    path: Path, model: type[SummaryRecord] | type[VerdictRecord], tid: str, attempt: int
) -> str | None:
    """None if an agent's summary or verdict file is valid and names this TaskSpec and attempt,
    else what is wrong with it."""
    try:
        record = load_valid(path, model)
    except InvalidArtifact as exc:
        return str(exc)
    named = (
        (record.taskspec_id, record.iteration)
        if isinstance(record, SummaryRecord)
        else (record.taskspec_id, record.attempt)
    )
    if named != (tid, attempt):
        return f"{path}: names {named[0]} attempt {named[1]}, expected {tid} attempt {attempt}"
    return None


def dumps(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
