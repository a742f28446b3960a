"""Invalid configuration values, from the file or from a variable (hatchdoit.config): one
ConfigError naming the field, where the value was set (file, overlay or variable) and a fix that
says what the key accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from config_loading import config_error, write_config

from hatchdoit.config.loader import CONFIG_FILE, load_config
from hatchdoit.core.errors import EXIT_CONFIG, ConfigError

# --- invalid values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, field",
    [
        ({"limits": {"max_attempts": 0}}, "limits.max_attempts"),
        ({"limits": {"max_attempts": 21}}, "limits.max_attempts"),
        ({"limits": {"parallel_sessions": "many"}}, "limits.parallel_sessions"),
        ({"limits": {"factory": {"wall_timeout": -1}}}, "limits.factory.wall_timeout"),
        ({"limits": {"backoff": {"jitter": 2}}}, "limits.backoff.jitter"),
        ({"integrate": "fast-forward"}, "integrate"),
        ({"tmux_socket": "has space"}, "tmux_socket"),
        ({"tmux_socket": "-rf"}, "tmux_socket"),  # would read as an option of tmux
        ({"tmux_socket": ".."}, "tmux_socket"),
        ({"logs": {"level": "LOUD"}}, "logs.level"),
        ({"limits": 5}, "limits"),
    ],
)
def test_invalid_file_values(tmp_path: Path, data: dict[str, Any], field: str) -> None:
    write_config(tmp_path, data)
    err = config_error(tmp_path)
    assert err.field == field
    assert f": {field}: " in err.one_line()


@pytest.mark.parametrize(
    "name, value, field",
    [
        ("HATCHDOIT__LIMITS__MAX_ATTEMPTS", "0", "limits.max_attempts"),
        ("HATCHDOIT__LIMITS__MAX_ATTEMPTS", "lots", "limits.max_attempts"),
        ("HATCHDOIT__LIMITS__MAX_ATTEMPTS", "", "limits.max_attempts"),
        ("HATCHDOIT__LIMITS__BOGUS", "1", "limits.bogus"),
        ("HATCHDOIT__INTEGRATE", "cherry-pick", "integrate"),
    ],
)
def test_invalid_variable_values(tmp_path: Path, name: str, value: str, field: str) -> None:
    write_config(tmp_path, {"limits": {"max_attempts": 2}})  # the file is fine
    err = config_error(tmp_path, {name: value}, source=name)
    assert err.field == field
    assert f"(set by the environment variable {name})" in err.message
    assert name in (err.fix or "") and "unset" in (err.fix or "")


def test_a_bad_variable_value_names_the_variable_and_what_it_needs(tmp_path: Path) -> None:
    """`HATCHDOIT__LIMITS__MAX_ATTEMPTS=many doit` once blamed hatchdoit.yaml."""
    name = "HATCHDOIT__LIMITS__MAX_ATTEMPTS"
    err = config_error(tmp_path, {name: "many"}, source=name)
    line = err.one_line()
    assert line.startswith(f"{name}: limits.max_attempts: Input should be a valid integer")
    assert f"got 'many' (set by the environment variable {name})" in line
    assert line.endswith(f"(fix: set {name} to an integer >= 1 and <= 20; or unset it)")
    assert CONFIG_FILE not in line


def test_a_file_value_replaced_by_a_variable_is_blamed_on_the_variable(tmp_path: Path) -> None:
    write_config(tmp_path, {"limits": {"max_attempts": 0, "parallel_sessions": 2}})
    assert load_config(tmp_path, {"HATCHDOIT__LIMITS__MAX_ATTEMPTS": "4"}).limits.max_attempts == 4
    # a variable replacing the whole section owns every key below it
    err = config_error(
        tmp_path, {"HATCHDOIT__LIMITS": "{max_attempts: 0}"}, source="HATCHDOIT__LIMITS"
    )
    assert err.field == "limits.max_attempts"
    # and a bad file value next to a variable's good one is still the file's
    err = config_error(tmp_path, {"HATCHDOIT__LIMITS__PARALLEL_SESSIONS": "3"})
    assert err.field == "limits.max_attempts" and "environment variable" not in err.message


def test_several_invalid_values_are_counted_with_their_sources(tmp_path: Path) -> None:
    write_config(tmp_path, {"integrate": "x", "limits": {"max_attempts": 0}})
    err = config_error(tmp_path, {"HATCHDOIT__LOGS__LEVEL": "LOUD"})
    assert "(and 2 more: " in err.message
    assert f"limits.max_attempts (set in {tmp_path / CONFIG_FILE})" in err.message
    assert "logs.level (set by the environment variable HATCHDOIT__LOGS__LEVEL)" in err.message


@pytest.mark.parametrize(
    "data, fix",
    [
        (
            {"integrate": "fast-forward"},
            "change integrate in hatchdoit.yaml to one of: none, merge, squash, rebase, pr",
        ),
        ({"limits": {"max_attempt": 4}}, "remove limits.max_attempt from hatchdoit.yaml"),
        ({"tmux_socket": "a b"}, "change tmux_socket in hatchdoit.yaml to a string matching"),
        ({"notify": {"command": "notify.sh"}}, "change notify.command in hatchdoit.yaml to a list"),
    ],
)
def test_the_fix_says_what_the_key_accepts(tmp_path: Path, data: dict[str, Any], fix: str) -> None:
    write_config(tmp_path, data)
    err = config_error(tmp_path)
    assert (err.fix or "").startswith(fix), err.fix
    if "remove" in fix:
        assert "limits takes: parallel_sessions, max_attempts" in (err.fix or "")


@pytest.mark.parametrize("value", ["@plans", "[unclosed"])
def test_unparsable_variable_value_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path, {"HATCHDOIT__SPECS": value})
    assert exc.value.exit_code == EXIT_CONFIG
    assert "HATCHDOIT__SPECS" in exc.value.one_line()
