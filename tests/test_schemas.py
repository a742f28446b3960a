"""Exported JSON Schemas and validation of agent-written files (hatchdoit.records.schemas)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hatchdoit.records.models import DoneRecord, SummaryRecord, VerdictRecord
from hatchdoit.records.schemas import (
    SCHEMA_MODELS,
    InvalidArtifact,
    dumps,
    export_schemas,
    load_valid,
    schema_for,
    try_load,
)

TID = "001-TS-2025-08-18-JWT-MIDDLEWARE"


def good_summary(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "taskspec_id": TID,
        "agent_type": "factory",
        "iteration": 1,
        "status": "completed",
        "implementation_files": ["src/auth/jwt.py", "tests/test_jwt.py"],
        "test_results": {"passed": 12, "failed": 0},
        "loc_analysis": {"actual": 140, "cap": 200},
        "next_steps": ["wire into router"],
        "handover_notes": "Tokens are verified with HS256.",
    }
    data.update(overrides)
    return data


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


# --- export ------------------------------------------------------------------------------------


def test_export_writes_eighteen_valid_schemas(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    written = export_schemas(out)
    assert len(written) == 18
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{name}.schema.json" for name in SCHEMA_MODELS
    )
    assert set(written) == set(out.iterdir())
    for path in written:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(schema, dict) and schema.get("type") == "object"
        jsonschema.validators.validator_for(schema).check_schema(schema)
        name = path.name.removesuffix(".schema.json")
        assert schema == schema_for(SCHEMA_MODELS[name])


def test_export_is_idempotent(tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in export_schemas(tmp_path)}
    second = {p.name: p.read_bytes() for p in export_schemas(tmp_path)}
    assert first == second
    assert len(list(tmp_path.iterdir())) == 18


def test_exported_summary_schema_checks_documents(tmp_path: Path) -> None:
    export_schemas(tmp_path)
    schema = json.loads((tmp_path / "summary.schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert validator.is_valid(good_summary())
    assert not validator.is_valid(good_summary(status="done"))
    assert not validator.is_valid({k: v for k, v in good_summary().items() if k != "next_steps"})


def test_exported_taskspec_schema_requires_the_declared_fields(tmp_path: Path) -> None:
    export_schemas(tmp_path)
    schema = json.loads((tmp_path / "taskspec.schema.json").read_text())
    assert {"id", "title", "featspec", "loc_cap", "test_command"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


# --- load_valid / try_load ---------------------------------------------------------------------


def test_load_valid_good_summary(tmp_path: Path) -> None:
    path = write_json(tmp_path / f"{TID}-factory-001.json", good_summary())
    record = load_valid(path, SummaryRecord)
    assert isinstance(record, SummaryRecord)
    assert record.taskspec_id == TID
    assert record.status == "completed"
    assert record.test_results.passed == 12
    assert record.loc_analysis.cap == 200
    assert record.implementation_files == ["src/auth/jwt.py", "tests/test_jwt.py"]
    assert try_load(path, SummaryRecord) == record


@pytest.mark.parametrize("status", ["completed", "failed", "partial"])
def test_every_summary_status_is_accepted(tmp_path: Path, status: str) -> None:
    path = write_json(tmp_path / "s.json", good_summary(status=status))
    assert load_valid(path, SummaryRecord).status == status


def test_summary_may_carry_extra_fields(tmp_path: Path) -> None:
    path = write_json(tmp_path / "s.json", good_summary(model="opus", cost_usd=0.12))
    record = load_valid(path, SummaryRecord)
    assert record.model_dump()["cost_usd"] == 0.12


def _without(key: str) -> dict[str, Any]:
    data = good_summary()
    del data[key]
    return data


BAD_SUMMARIES: dict[str, Any] = {
    "wrong status": good_summary(status="done"),
    "wrong agent_type": good_summary(agent_type="qa"),
    "iteration zero": good_summary(iteration=0),
    "iteration as text": good_summary(iteration="one"),
    "missing handover_notes": _without("handover_notes"),
    "missing test_results": _without("test_results"),
    "missing failed count": good_summary(test_results={"passed": 1}),
    "negative passed": good_summary(test_results={"passed": -1, "failed": 0}),
    "negative failed": good_summary(test_results={"passed": 0, "failed": -2}),
    "negative loc": good_summary(loc_analysis={"actual": -5, "cap": 200}),
    "files not a list": good_summary(implementation_files="src/a.py"),
    "top level list": [good_summary()],
    "null": None,
}


@pytest.mark.parametrize("content", list(BAD_SUMMARIES.values()), ids=list(BAD_SUMMARIES))
def test_invalid_summary_is_refused(tmp_path: Path, content: Any) -> None:
    path = write_json(tmp_path / "summary.json", content)
    with pytest.raises(InvalidArtifact) as exc:
        load_valid(path, SummaryRecord)
    assert str(path) in str(exc.value)
    assert try_load(path, SummaryRecord) is None


def test_invalid_summary_message_names_the_field(tmp_path: Path) -> None:
    path = write_json(tmp_path / "s.json", good_summary(test_results={"passed": -1, "failed": 0}))
    with pytest.raises(InvalidArtifact, match="test_results/passed"):
        load_valid(path, SummaryRecord)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(InvalidArtifact, match="missing") as exc:
        load_valid(path, SummaryRecord)
    assert str(path) in str(exc.value)
    assert isinstance(exc.value.__cause__, FileNotFoundError)
    assert try_load(path, SummaryRecord) is None


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b'{"taskspec_id": }', b"not json at all", b"\xff\xfe{}"],
    ids=["empty", "truncated", "syntax", "text", "not utf-8"],
)
def test_unparsable_file(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(raw)
    with pytest.raises(InvalidArtifact, match="not valid JSON") as exc:
        load_valid(path, SummaryRecord)
    assert str(path) in str(exc.value)
    assert try_load(path, SummaryRecord) is None


def test_directory_instead_of_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.mkdir()
    with pytest.raises(InvalidArtifact) as exc:
        load_valid(path, SummaryRecord)
    assert str(path) in str(exc.value)


def test_invalid_artifact_is_a_value_error() -> None:
    assert issubclass(InvalidArtifact, ValueError)


# --- verdicts and strict records ---------------------------------------------------------------


@pytest.mark.parametrize("verdict", ["approved", "rejected"])
def test_verdict_values(tmp_path: Path, verdict: str) -> None:
    path = write_json(
        tmp_path / "v.json",
        {"taskspec_id": TID, "attempt": 2, "verdict": verdict, "reasons": ["r"]},
    )
    record = load_valid(path, VerdictRecord)
    assert record.verdict == verdict
    assert record.attempt == 2
    assert record.feedback == ""


@pytest.mark.parametrize("verdict", ["APPROVED", "approve", "pass", "", None])
def test_verdict_refuses_other_values(tmp_path: Path, verdict: Any) -> None:
    path = write_json(tmp_path / "v.json", {"taskspec_id": TID, "attempt": 1, "verdict": verdict})
    with pytest.raises(InvalidArtifact, match="verdict"):
        load_valid(path, VerdictRecord)
    assert try_load(path, VerdictRecord) is None


def test_strict_record_refuses_unknown_fields(tmp_path: Path) -> None:
    done = {
        "taskspec_id": TID,
        "digest": "d" * 64,
        "attempt": 1,
        "branch": f"taskspec/{TID}",
        "commit": "a" * 40,
        "verdict": "approved",
    }
    assert load_valid(write_json(tmp_path / "ok.json", done), DoneRecord).commit == "a" * 40
    path = write_json(tmp_path / "extra.json", {**done, "surprise": 1})
    with pytest.raises(InvalidArtifact, match="surprise"):
        load_valid(path, DoneRecord)


def test_dumps_round_trips_through_load_valid(tmp_path: Path) -> None:
    record = SummaryRecord.model_validate(good_summary(status="partial", next_steps=[]))
    path = tmp_path / "s.json"
    path.write_text(dumps(record), encoding="utf-8")
    assert load_valid(path, SummaryRecord) == record
    assert list(json.loads(dumps(record))) == sorted(json.loads(dumps(record)))
