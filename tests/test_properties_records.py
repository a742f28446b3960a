"""Property-based tests (hypothesis) of the artifact records: documents generated from each
artifact's exported JSON Schema validate with pydantic and survive a JSON round trip; the schema
never accepts what the model refuses; the TaskSpec schema matches the model on valid specs.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from property_strategies import SETTINGS, taskspec_fields
from pydantic import BaseModel, ValidationError

from hatchdoit.planning.specs import TaskSpec
from hatchdoit.records.models import (
    ChecksRecord,
    DoneRecord,
    EscalatedRecord,
    LaunchRecord,
    Receipt,
    StopRecord,
    SummaryRecord,
    VerdictRecord,
    WorktreeRecord,
)
from hatchdoit.records.schemas import schema_for

# --------------------------------------------------------------------------------------------
# Artifact records: JSON Schema <-> pydantic

MODELS: list[type[BaseModel]] = [
    WorktreeRecord,
    LaunchRecord,
    StopRecord,
    SummaryRecord,
    ChecksRecord,
    VerdictRecord,
    Receipt,
    DoneRecord,
    EscalatedRecord,
]
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
any_json = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for documents valid under the (pydantic-generated) JSON Schema `schema`."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, defs) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=20)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -(10**6)), max_value=10**6)
    if kind == "number":
        return st.floats(min_value=schema.get("minimum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), defs)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=4)
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        extra: st.SearchStrategy[dict[str, Any]] = st.just({})
        if schema.get("additionalProperties") is True or (
            "properties" not in schema and schema.get("additionalProperties") is not False
        ):
            extra = st.dictionaries(
                st.text(min_size=1, max_size=8).filter(lambda k: k not in props),
                any_json,
                max_size=3,
            )
        return st.builds(
            lambda req, opt, more: {**more, **req, **opt},
            st.fixed_dictionaries({k: from_schema(props[k], defs) for k in props if k in required}),
            st.fixed_dictionaries(
                {}, optional={k: from_schema(props[k], defs) for k in props if k not in required}
            ),
            extra,
        )
    return any_json


@cache
def validator_of(model: type[BaseModel]) -> Any:
    schema = schema_for(model)
    return jsonschema.validators.validator_for(schema)(schema)


def pydantic_accepts(model: type[BaseModel], doc: Any) -> bool:
    try:
        model.model_validate_json(json.dumps(doc))
    except ValidationError:
        return False
    return True


def schema_accepts(model: type[BaseModel], doc: Any) -> bool:
    return bool(validator_of(model).is_valid(doc))


def documents(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    schema = schema_for(model)
    return from_schema(schema, schema.get("$defs", {}))


def mutated(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Valid documents with one field removed or replaced by any JSON value."""
    schema = schema_for(model)
    keys = sorted(schema.get("properties", {}))

    def mutate(doc: dict[str, Any], key: str, value: Any, drop: bool) -> dict[str, Any]:
        doc = dict(doc)
        if drop:
            doc.pop(key, None)
        else:
            doc[key] = value
        return doc

    return st.builds(mutate, documents(model), st.sampled_from(keys), any_json, st.booleans())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_schema_valid_documents_round_trip(model: type[BaseModel]) -> None:
    @SETTINGS
    @given(doc=documents(model))
    def check(doc: Any) -> None:
        assert schema_accepts(model, doc)
        record = model.model_validate_json(json.dumps(doc))
        again = model.model_validate_json(json.dumps(record.model_dump(mode="json")))
        assert again == record
        assert schema_accepts(model, record.model_dump(mode="json"))

    check()


VERDICT = {"taskspec_id": "T", "verdict": "approved"}
ESCALATED = {"taskspec_id": "T", "digest": "d", "reasons": []}


@pytest.mark.parametrize(
    ("model", "doc", "key", "number", "valid"),
    [
        (VerdictRecord, VERDICT, "attempt", 9.3e18, False),
        (EscalatedRecord, ESCALATED, "attempts", -(2.0**63), False),
        (VerdictRecord, VERDICT, "attempt", 4.6e18, True),
        (EscalatedRecord, ESCALATED, "attempts", -4.6e18, True),
    ],
)
def test_schema_and_model_agree_on_whole_numbers_written_as_floats(
    model: type[BaseModel], doc: dict[str, Any], key: str, number: float, valid: bool
) -> None:
    """pydantic reads 9.3e18 into an int only inside 64 bits; the schema says the same (a case
    hypothesis found: the schema took 9.223372036854776e+18 and the model refused it)."""
    doc = {**doc, key: number}
    assert schema_accepts(model, doc) is valid
    assert pydantic_accepts(model, doc) is valid


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_schema_never_accepts_what_the_model_refuses(model: type[BaseModel]) -> None:
    """An agent that checks its summary or verdict against the exported schema is not refused
    by hatchdoit afterwards (the model may be more lenient, never stricter)."""

    @settings(max_examples=100, deadline=None)
    @given(doc=mutated(model))
    def check(doc: Any) -> None:
        if schema_accepts(model, doc):
            assert pydantic_accepts(model, doc), doc

    check()


def test_taskspec_schema_matches_the_model_on_valid_specs() -> None:
    @SETTINGS
    @given(fields=taskspec_fields)
    def check(fields: dict[str, Any]) -> None:
        spec = TaskSpec.model_validate({**fields, "body": "Do the work."})
        dumped = spec.model_dump(mode="json")
        assert schema_accepts(TaskSpec, dumped)
        assert TaskSpec.model_validate(dumped) == spec

    check()
