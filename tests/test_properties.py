"""Property-based tests (hypothesis) for the spec parser, ids, redaction and artifact models.

- Front matter round trip: any valid TaskSpec written as YAML front matter + Markdown body loads
  back field for field, body byte for byte.
- Ids: check_id accepts exactly the documented pattern; an accepted id is a safe file name,
  branch name and tmux session name, and the scripts' own id check agrees with it.
- Records: documents generated from each artifact's exported JSON Schema validate with pydantic
  and survive a JSON round trip; the schema never accepts what the model refuses.
- Redaction: no secret value survives `redact`.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from hatchdoit.layout import Layout
from hatchdoit.logs import redact
from hatchdoit.planning import load_plan
from hatchdoit.records import (
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
from hatchdoit.specs import ID_PATTERN, TaskSpec, check_id
from hatchdoit.tmux import session_name

CHECKOUT = Path(__file__).resolve().parent.parent
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
valid_ids = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(ID_CHARS),
    st.text(alphabet=ID_CHARS + "_.-", max_size=40),
).filter(lambda s: ".." not in s and not s.endswith((".", ".lock")))  # git's ref rules
any_ids = st.one_of(
    valid_ids,
    st.text(max_size=60),
    st.text(alphabet="A1_.-/ $`;|&#{}()\n\\'\"", max_size=20),
)
# Text a YAML dump and a Markdown body can carry (no surrogates; YAML forbids most C0 controls).
safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=80,
)
line_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85\ufeff"
    ),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() == s and s.strip())


# --------------------------------------------------------------------------------------------
# The spec parser


def write_spec(root: Path, name: str, fields: dict[str, Any], body: str) -> Path:
    path = root / "_specs" / "taskspecs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    head = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True)
    path.write_bytes(f"---\n{head}---\n{body}".encode())
    return path


def featspec(root: Path) -> None:
    path = root / "_specs" / "featspecs" / "FS-1.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\nid: FS-1\ntitle: Feature\nkind: featspec\n---\nF.\n", encoding="utf-8")


taskspec_fields = st.fixed_dictionaries(
    {
        "id": valid_ids,
        "title": line_text,
        "featspec": st.just("FS-1"),
        "loc_cap": st.integers(min_value=1, max_value=10**6),
        "test_command": st.lists(line_text, min_size=1, max_size=4),
        "max_attempts": st.integers(min_value=1, max_value=20),
        "test_timeout": st.floats(min_value=0.5, max_value=10**4, allow_nan=False),
        "scripted": st.fixed_dictionaries(
            {
                "factory": st.lists(
                    st.sampled_from(["succeed", "fail-tests", "hang", "crash"]),
                    min_size=1,
                    max_size=3,
                ),
                "qa": st.sampled_from(["approve", "reject", "reject-once"]),
            }
        ),
    }
)
# A TaskSpec's body is its work description: never blank.
bodies = safe_text.filter(
    lambda b: bool(b.strip()) and not b.startswith("\n") and not b.endswith("\n")
)


@SETTINGS
@given(fields=taskspec_fields, body=bodies)
def test_front_matter_round_trip(
    tmp_path_factory: pytest.TempPathFactory, fields: dict[str, Any], body: str
) -> None:
    root = tmp_path_factory.mktemp("spec")
    featspec(root)
    write_spec(root, "t.md", fields, body)
    plan = load_plan(root)
    assert not plan.errors, [e.one_line() for e in plan.errors]
    spec = plan.taskspec(fields["id"])
    for key in ("id", "title", "featspec", "loc_cap", "test_command", "max_attempts"):
        assert getattr(spec, key) == fields[key], key
    assert spec.test_timeout == pytest.approx(fields["test_timeout"])
    assert spec.scripted.factory == fields["scripted"]["factory"]
    assert spec.body == body


@SETTINGS
@given(title=st.text(alphabet="ab-.\n ", min_size=1, max_size=12).filter(lambda t: t.strip()))
def test_multiline_title_round_trip(tmp_path_factory: pytest.TempPathFactory, title: str) -> None:
    """A title holding a line of '---' or '...' is still front matter, not its end."""
    root = tmp_path_factory.mktemp("spec")
    featspec(root)
    fields = {"id": "T-1", "title": title, "featspec": "FS-1", "loc_cap": 5, "test_command": "x"}
    write_spec(root, "t.md", fields, "Body.")
    plan = load_plan(root)
    assert not plan.errors, [e.one_line() for e in plan.errors]
    assert plan.taskspec("T-1").title == title
    assert plan.taskspec("T-1").body == "Body."


@SETTINGS
@given(text=st.text(max_size=200))
def test_parser_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    """Any text in _specs/ is a spec or a reported problem: never an exception."""
    root = tmp_path_factory.mktemp("spec")
    featspec(root)
    path = root / "_specs" / "taskspecs" / "any.md"
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    plan = load_plan(root)
    assert plan.taskspecs or any(str(path) in e.one_line() for e in plan.errors)


# --------------------------------------------------------------------------------------------
# Ids


def accepted(value: str) -> bool:
    try:
        check_id(value)
    except ValueError:
        return False
    return True


@SETTINGS
@given(value=any_ids)
def test_check_id_is_the_documented_pattern(value: str) -> None:
    documented = (
        re.fullmatch(ID_PATTERN, value) is not None
        and ".." not in value
        and not value.endswith((".", ".lock"))
    )
    assert accepted(value) == documented
    assert accepted("A1.") is accepted("A.lock") is False  # the cases git refuses


@SETTINGS
@given(value=any_ids, role=st.sampled_from(["factory", "qa"]), attempt=st.integers(1, 20))
def test_accepted_ids_are_safe_names(value: str, role: str, attempt: int) -> None:
    assume(accepted(value))
    root = Path("/srv/project")
    layout = Layout(root)
    for path in (layout.worktree(value), layout.state_dir(value), layout.hooks_dir(value)):
        assert path.parent.name in ("_worktrees", "state", "hooks")
        assert path.name == value and "/" not in value
    assert re.fullmatch(r"[A-Za-z0-9_-]+", session_name(value, role, attempt))
    assert not value.startswith(("-", "."))
    ref = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/taskspec/{value}"], capture_output=True
    )
    assert ref.returncode == 0, value


@pytest.mark.parametrize("value", ["FIX.", "CACHE.lock", "A.b."])
def test_ids_git_refuses_are_refused(value: str) -> None:
    ref = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/taskspec/{value}"], capture_output=True
    )
    assert ref.returncode != 0  # git refuses it ...
    assert not accepted(value)  # ... so validation must too


@settings(max_examples=15, deadline=None)
@given(values=st.lists(any_ids.filter(lambda v: "\n" not in v and "\0" not in v), max_size=40))
def test_scripts_agree_with_check_id(values: list[str]) -> None:
    """The bash id check of scripts/git/*.sh (read from the script) says what check_id says."""
    source = (CHECKOUT / "scripts" / "git" / "create_worktree.sh").read_text(encoding="utf-8")
    test = re.search(r"\[\[ (\$id =~ .*?) \]\] \|\| die 2 \"invalid id", source)
    assert test, "create_worktree.sh no longer checks ids the way this test expects"
    program = (
        "while IFS= read -r id; do if [[ " + test.group(1) + " ]]; then echo 1; "
        "else echo 0; fi; done"
    )
    done = subprocess.run(
        ["bash", "-c", program],
        input="".join(v + "\n" for v in values),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [str(int(accepted(v))) for v in values]


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
def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


@cache
def validator_of(model: type[BaseModel]) -> Any:
    schema = schema_of(model)
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
    schema = schema_of(model)
    return from_schema(schema, schema.get("$defs", {}))


def mutated(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Valid documents with one field removed or replaced by any JSON value."""
    schema = schema_of(model)
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


# --------------------------------------------------------------------------------------------
# Redaction


@SETTINGS
@given(
    secrets=st.lists(
        st.text(alphabet="abcxyz0-_", min_size=8, max_size=16), min_size=1, max_size=3
    ),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_redaction_leaves_no_secret(secrets: list[str], before: str, after: str) -> None:
    ordered = sorted(set(secrets), key=len, reverse=True)
    text = before + "".join(f" {s} " for s in secrets) + after
    cleaned = redact(text, ordered)
    for secret in ordered:
        assert secret not in cleaned
