"""TaskSpec / FeatSpec / ScriptedPlan validation (hatchdoit.planning.specs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hatchdoit.planning.specs import AgentChoice, FeatSpec, ScriptedPlan, TaskSpec, check_id

GOOD_ID = "001-TS-2025-08-18-JWT-MIDDLEWARE"

BAD_IDS = [
    "../x",
    "a/b",
    "a b",
    "$(x)",
    "a;b",
    "",
    "a" * 129,
    "a..b",
    "-leading-dash",
    ".hidden",
    "_underscore-first",
    "tab\tin",
    "back`tick`",
    "ünïcode",
]


def task_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": GOOD_ID,
        "title": "JWT middleware",
        "featspec": "FS-AUTH",
        "loc_cap": 200,
        "test_command": ["pytest", "-q"],
        "body": "Add the JWT middleware.",
    }
    data.update(overrides)
    return data


def error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[Any, ...]]:
    return [tuple(err["loc"]) for err in exc.value.errors()]


# --- ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("good", [GOOD_ID, "a", "A.b_c-1", "x" * 128, "9lives"])
def test_check_id_accepts_plain_ids(good: str) -> None:
    assert check_id(good) == good
    assert TaskSpec(**task_data(id=good)).id == good
    assert FeatSpec(id=good, title="f").id == good


@pytest.mark.parametrize("bad", BAD_IDS)
def test_check_id_refuses_unsafe_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="1-128 characters"):
        check_id(bad)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_taskspec_and_featspec_refuse_unsafe_ids(bad: str) -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(id=bad))
    assert error_locs(exc) == [("id",)]
    with pytest.raises(ValidationError) as exc:
        FeatSpec(id=bad, title="f")
    assert error_locs(exc) == [("id",)]


@pytest.mark.parametrize("bad", ["abc\n", "x" * 128 + "\n"])
def test_check_id_refuses_trailing_newline(bad: str) -> None:
    with pytest.raises(ValueError):
        check_id(bad)


# --- test_command ------------------------------------------------------------------------------


def test_test_command_string_is_split_like_a_shell() -> None:
    spec = TaskSpec(**task_data(test_command='pytest -q -k "jwt and not slow" tests/'))
    assert spec.test_command == ["pytest", "-q", "-k", "jwt and not slow", "tests/"]


def test_test_command_single_quotes_keep_one_argument() -> None:
    spec = TaskSpec(**task_data(test_command="sh -c 'make test && echo ok'"))
    assert spec.test_command == ["sh", "-c", "make test && echo ok"]


def test_test_command_list_is_kept_verbatim() -> None:
    argv = ["python", "-m", "pytest", "a b", "$(x)"]
    assert TaskSpec(**task_data(test_command=argv)).test_command == argv


def test_command_substitution_is_a_literal_token_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    quoted = TaskSpec(**task_data(test_command=f'echo "$(touch {marker})" `touch {marker}`'))
    assert quoted.test_command == ["echo", f"$(touch {marker})", "`touch", f"{marker}`"]
    unquoted = TaskSpec(**task_data(test_command="echo $(rm -rf /); true"))
    assert unquoted.test_command == ["echo", "$(rm", "-rf", "/);", "true"]
    assert TaskSpec(**task_data(test_command="'$(rm -rf /)'")).test_command == ["$(rm -rf /)"]
    assert not marker.exists()


@pytest.mark.parametrize("bad", ["", "   ", [], 'echo "unclosed'])
def test_test_command_must_be_a_nonempty_argv(bad: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(test_command=bad))
    assert error_locs(exc) == [("test_command",)]


# --- depends_on --------------------------------------------------------------------------------


def test_depends_on_defaults_to_empty_list() -> None:
    assert TaskSpec(**task_data()).depends_on == []
    assert TaskSpec(**task_data(depends_on=None)).depends_on == []


def test_depends_on_string_becomes_one_element_list() -> None:
    assert TaskSpec(**task_data(depends_on="000-TS-BASE")).depends_on == ["000-TS-BASE"]


def test_depends_on_list_is_kept_in_order() -> None:
    assert TaskSpec(**task_data(depends_on=["B", "A"])).depends_on == ["B", "A"]


def test_depends_on_duplicates_are_refused() -> None:
    with pytest.raises(ValidationError, match="same id twice") as exc:
        TaskSpec(**task_data(depends_on=["A", "B", "A"]))
    assert error_locs(exc) == [("depends_on",)]


@pytest.mark.parametrize("bad", ["../etc", "a b", "a..b", ""])
def test_depends_on_ids_follow_id_rules(bad: str) -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(depends_on=["ok", bad]))
    assert error_locs(exc) == [("depends_on",)]


# --- unknown keys, required fields, frozen ------------------------------------------------------


def test_unknown_keys_are_refused_everywhere() -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(priority="high"))
    assert [(e["loc"], e["type"]) for e in exc.value.errors()] == [
        (("priority",), "extra_forbidden")
    ]
    with pytest.raises(ValidationError):
        FeatSpec.model_validate({"id": "F", "title": "f", "loc_cap": 3})
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(agent={"factory": "x", "reviewer": "y"}))
    assert error_locs(exc) == [("agent", "reviewer")]
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(scripted={"factory": "succeed", "extra": 1}))
    assert error_locs(exc) == [("scripted", "extra")]


@pytest.mark.parametrize("field", ["id", "title", "featspec", "loc_cap", "test_command"])
def test_taskspec_required_fields(field: str) -> None:
    data = task_data()
    del data[field]
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**data)
    assert [(e["loc"], e["type"]) for e in exc.value.errors()] == [((field,), "missing")]


def test_empty_title_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(title=""))
    assert error_locs(exc) == [("title",)]


def test_specs_are_frozen() -> None:
    spec = TaskSpec(**task_data())
    with pytest.raises(ValidationError):
        spec.loc_cap = 10
    assert spec.loc_cap == 200


def test_taskspec_defaults() -> None:
    spec = TaskSpec(**task_data())
    assert spec.agent == AgentChoice(factory=None, qa=None)
    assert spec.max_attempts is None
    assert spec.test_timeout is None
    assert spec.scripted.factory == ["succeed"]
    assert spec.scripted.qa == "approve"


@pytest.mark.parametrize("body", [None, "", " \n\t "])
def test_taskspec_body_must_describe_the_work(body: str | None) -> None:
    data = task_data(body=body)
    if body is None:
        del data["body"]
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**data)
    assert error_locs(exc) == [("body",)]


def test_kind_is_limited_to_known_values() -> None:
    assert TaskSpec(**task_data(kind="taskspec")).kind == "taskspec"
    with pytest.raises(ValidationError) as exc:
        FeatSpec.model_validate({"id": "F", "title": "f", "kind": "epic"})
    assert error_locs(exc) == [("kind",)]


# --- numeric bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [0, -1])
def test_loc_cap_must_be_positive(cap: int) -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(loc_cap=cap))
    assert error_locs(exc) == [("loc_cap",)]


def test_loc_cap_one_is_allowed() -> None:
    assert TaskSpec(**task_data(loc_cap=1)).loc_cap == 1


def test_loc_cap_must_be_a_number() -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(loc_cap="lots"))
    assert error_locs(exc) == [("loc_cap",)]


@pytest.mark.parametrize("attempts", [1, 5, 20])
def test_max_attempts_within_bounds(attempts: int) -> None:
    assert TaskSpec(**task_data(max_attempts=attempts)).max_attempts == attempts


@pytest.mark.parametrize("attempts", [0, -3, 21, 100])
def test_max_attempts_out_of_bounds(attempts: int) -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(max_attempts=attempts))
    assert error_locs(exc) == [("max_attempts",)]


@pytest.mark.parametrize("timeout", [0, -1.5])
def test_test_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValidationError) as exc:
        TaskSpec(**task_data(test_timeout=timeout))
    assert error_locs(exc) == [("test_timeout",)]


# --- ScriptedPlan ------------------------------------------------------------------------------


def test_scripted_plan_list_repeats_last_entry() -> None:
    plan = ScriptedPlan(factory=["fail-tests", "exceed-loc", "succeed"])
    assert [plan.factory_for(k) for k in range(1, 7)] == [
        "fail-tests",
        "exceed-loc",
        "succeed",
        "succeed",
        "succeed",
        "succeed",
    ]


def test_scripted_plan_single_string_applies_to_every_attempt() -> None:
    plan = ScriptedPlan.model_validate({"factory": "hang"})
    assert plan.factory == ["hang"]
    assert [plan.factory_for(k) for k in (1, 2, 10)] == ["hang", "hang", "hang"]


def test_scripted_plan_default_succeeds_and_approves() -> None:
    plan = ScriptedPlan()
    assert plan.factory_for(1) == "succeed"
    assert plan.qa == "approve"


def test_scripted_plan_from_taskspec_mapping() -> None:
    spec = TaskSpec(**task_data(scripted={"factory": ["crash", "succeed"], "qa": "reject-once"}))
    assert spec.scripted.factory_for(1) == "crash"
    assert spec.scripted.factory_for(2) == "succeed"
    assert spec.scripted.qa == "reject-once"


@pytest.mark.parametrize(
    "data, loc",
    [
        ({"factory": "explode"}, ("factory", 0)),
        ({"factory": ["succeed", "nope"]}, ("factory", 1)),
        ({"factory": []}, ("factory",)),
        ({"qa": "maybe"}, ("qa",)),
    ],
)
def test_scripted_plan_refuses_unknown_behaviours(
    data: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as exc:
        ScriptedPlan.model_validate(data)
    assert error_locs(exc) == [loc]
