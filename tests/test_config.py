"""hatchdoit.yaml, HATCHDOIT_ENV overlays and environment overrides (hatchdoit.config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hatchdoit.config import CONFIG_FILE, HatchdoitConfig, load_config
from hatchdoit.errors import EXIT_CONFIG, ConfigError
from hatchdoit.project import load_project
from tests.conftest import make_project


def write_config(root: Path, data: dict[str, Any] | str) -> Path:
    path = root / CONFIG_FILE
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def config_error(
    root: Path, environ: dict[str, str] | None = None, source: str | None = None
) -> ConfigError:
    """The ConfigError of loading `root`; `source` is where it must say the value was set (the
    variable's name; default the file)."""
    with pytest.raises(ConfigError) as exc:
        load_config(root, environ or {})
    assert exc.value.exit_code == EXIT_CONFIG == 2
    assert exc.value.path == (source or str(root / CONFIG_FILE))
    assert exc.value.fix
    return exc.value


# --- defaults and the file ---------------------------------------------------------------------


def test_defaults_without_file(tmp_path: Path) -> None:
    config = load_config(tmp_path, {})
    assert config == HatchdoitConfig()
    assert config.specs == "specs_link"
    assert config.integrate == "none"
    assert config.agents.factory == "scripted" and config.agents.qa == "scripted"
    assert config.limits.max_attempts == 3
    assert config.limits.parallel_sessions == 4
    assert config.limits.qa.wall_timeout == 1800.0
    assert config.limits.factory.wall_timeout == 3600.0
    assert config.target.repo == "."


@pytest.mark.parametrize("content", ["", "# only a comment\n", "~\n"])
def test_empty_file_gives_defaults(tmp_path: Path, content: str) -> None:
    write_config(tmp_path, content)
    assert load_config(tmp_path, {}) == HatchdoitConfig()


def test_file_values_are_used(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "specs": "../planning",
            "integrate": "rebase",
            "agents": {"factory": "claude-code"},
            "limits": {"max_attempts": 5, "factory": {"idle_timeout": 30}},
            "target": {"repo": "work", "integration_branch": "main"},
            "logs": {"level": "DEBUG"},
            "agent_params": {"claude-code": {"model": "opus"}},
        },
    )
    config = load_config(tmp_path, {})
    assert config.specs == "../planning"
    assert config.integrate == "rebase"
    assert config.agents.factory == "claude-code"
    assert config.agents.qa == "scripted"  # untouched sibling keeps its default
    assert config.limits.max_attempts == 5
    assert config.limits.factory.idle_timeout == 30.0
    assert config.limits.factory.wall_timeout == 3600.0
    assert config.target.integration_branch == "main"
    assert config.logs.level == "DEBUG"
    assert config.agent_params == {"claude-code": {"model": "opus"}}


@pytest.mark.parametrize("source", ["file", "variable"])
def test_partial_qa_limits_keep_qa_wall_timeout_default(tmp_path: Path, source: str) -> None:
    environ: dict[str, str] = {}
    if source == "file":
        write_config(tmp_path, {"limits": {"qa": {"idle_timeout": 30}}})
    else:
        environ["HATCHDOIT__LIMITS__QA__IDLE_TIMEOUT"] = "30"
    config = load_config(tmp_path, environ)
    assert config.limits.qa.idle_timeout == 30.0
    assert config.limits.qa.wall_timeout == 1800.0


def test_environ_none_reads_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCHDOIT__LIMITS__MAX_ATTEMPTS", "7")
    assert load_config(tmp_path).limits.max_attempts == 7
    assert load_config(tmp_path, {}).limits.max_attempts == 3


def test_unknown_key_names_file_and_field(tmp_path: Path) -> None:
    write_config(tmp_path, {"speks": "typo"})
    err = config_error(tmp_path)
    assert err.field == "speks"
    assert f"{tmp_path / CONFIG_FILE}: speks: " in err.one_line()


def test_unknown_nested_key_names_the_path(tmp_path: Path) -> None:
    write_config(tmp_path, {"limits": {"max_attempt": 4}})
    assert config_error(tmp_path).field == "limits.max_attempt"


def test_bad_yaml(tmp_path: Path) -> None:
    write_config(tmp_path, "limits:\n  max_attempts: [3\n")
    err = config_error(tmp_path)
    assert "cannot read" in err.message
    assert CONFIG_FILE in err.one_line()


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_bytes(b"specs: caf\xe9\n")
    assert "cannot read" in config_error(tmp_path).message


@pytest.mark.parametrize("content", ["- a\n- b\n", "just text\n", "3\n"])
def test_file_must_be_a_mapping(tmp_path: Path, content: str) -> None:
    write_config(tmp_path, content)
    assert "mapping" in config_error(tmp_path).message


# --- HATCHDOIT_ENV overlays --------------------------------------------------------------------

OVERLAID = {
    "limits": {"max_attempts": 2, "parallel_sessions": 7, "factory": {"idle_timeout": 11}},
    "environments": {
        "ci": {"limits": {"max_attempts": 6, "factory": {"wall_timeout": 99}}},
        "prod": {"integrate": "merge"},
        "staging": {"specs": "/srv/plans"},
    },
}


def test_overlay_deep_merges(tmp_path: Path) -> None:
    write_config(tmp_path, OVERLAID)
    config = load_config(tmp_path, {"HATCHDOIT_ENV": "ci"})
    assert config.limits.max_attempts == 6
    assert config.limits.parallel_sessions == 7  # sibling from the file survives
    assert config.limits.factory.wall_timeout == 99.0
    assert config.limits.factory.idle_timeout == 11.0  # nested sibling survives too
    assert config.integrate == "none"  # other overlays not applied


def test_overlay_only_applies_when_selected(tmp_path: Path) -> None:
    write_config(tmp_path, OVERLAID)
    assert load_config(tmp_path, {}).limits.max_attempts == 2
    assert load_config(tmp_path, {"HATCHDOIT_ENV": ""}).limits.max_attempts == 2
    assert load_config(tmp_path, {"HATCHDOIT_ENV": "prod"}).integrate == "merge"
    assert load_config(tmp_path, {"HATCHDOIT_ENV": "staging"}).specs == "/srv/plans"


def test_unknown_env_without_overlay_is_an_error(tmp_path: Path) -> None:
    write_config(tmp_path, OVERLAID)
    err = config_error(tmp_path, {"HATCHDOIT_ENV": "qa-lab"})
    assert err.field == "environments"
    assert "qa-lab" in err.message
    # every accepted name, the standard ones first, as words rather than a Python list
    assert err.fix == "use one of: dev, ci, prod, staging; or add environments.qa-lab to " + (
        CONFIG_FILE
    )


def test_unknown_env_without_file_is_an_error(tmp_path: Path) -> None:
    err = config_error(tmp_path, {"HATCHDOIT_ENV": "nightly"})
    assert err.field == "environments"
    assert "use one of: dev, ci, prod;" in err.one_line() and "[" not in err.one_line()


@pytest.mark.parametrize("name", ["dev", "ci", "prod"])
def test_standard_envs_need_no_overlay(tmp_path: Path, name: str) -> None:
    assert load_config(tmp_path, {"HATCHDOIT_ENV": name}) == HatchdoitConfig()
    write_config(tmp_path, {"limits": {"max_attempts": 4}})
    assert load_config(tmp_path, {"HATCHDOIT_ENV": name}).limits.max_attempts == 4


def test_overlay_with_invalid_value_names_the_overlay_and_the_field(tmp_path: Path) -> None:
    write_config(tmp_path, {"environments": {"ci": {"limits": {"max_attempts": 0}}}})
    assert load_config(tmp_path, {}).limits.max_attempts == 3
    err = config_error(tmp_path, {"HATCHDOIT_ENV": "ci"})
    assert err.field == "environments.ci.limits.max_attempts"  # where it is written in the file
    assert "got 0 (set by environments.ci, chosen by HATCHDOIT_ENV=ci)" in err.message
    assert err.fix == (
        f"change environments.ci.limits.max_attempts in {CONFIG_FILE} to an integer >= 1 and <= 20"
    )


def test_non_mapping_overlay_is_a_config_error(tmp_path: Path) -> None:
    write_config(tmp_path, {"environments": {"ci": 5}})
    config_error(tmp_path, {"HATCHDOIT_ENV": "ci"})


def test_environments_as_list_is_a_config_error(tmp_path: Path) -> None:
    write_config(tmp_path, {"environments": ["ci"]})
    config_error(tmp_path, {"HATCHDOIT_ENV": "ci"})


# --- environment variables ---------------------------------------------------------------------


def test_double_underscore_override_is_yaml_typed(tmp_path: Path) -> None:
    config = load_config(
        tmp_path,
        {
            "HATCHDOIT__LIMITS__MAX_ATTEMPTS": "5",
            "HATCHDOIT__LIMITS__QA__IDLE_TIMEOUT": "12.5",
            "HATCHDOIT__INTEGRATE": "merge",
            "HATCHDOIT__TARGET__INTEGRATION_BRANCH": "develop",
            "HATCHDOIT__AGENT_PARAMS__CODEX__FLAGS": "[--full-auto, -q]",
        },
    )
    assert config.limits.max_attempts == 5
    assert isinstance(config.limits.max_attempts, int)
    assert config.limits.qa.idle_timeout == 12.5
    assert config.integrate == "merge"
    assert config.target.integration_branch == "develop"
    assert config.agent_params == {"codex": {"flags": ["--full-auto", "-q"]}}


def test_double_underscore_override_merges_with_file(tmp_path: Path) -> None:
    write_config(tmp_path, {"limits": {"max_attempts": 2, "parallel_sessions": 9}})
    config = load_config(tmp_path, {"HATCHDOIT__LIMITS__MAX_ATTEMPTS": "5"})
    assert config.limits.max_attempts == 5
    assert config.limits.parallel_sessions == 9


def test_unrelated_variables_are_ignored(tmp_path: Path) -> None:
    environ = {"HATCHDOITX": "1", "HATCHDOIT_OTHER": "x", "PATH": "/bin", "LIMITS": "x"}
    assert load_config(tmp_path, environ) == HatchdoitConfig()


def test_agent_shortcut_sets_both_roles(tmp_path: Path) -> None:
    write_config(tmp_path, {"agents": {"factory": "codex", "qa": "generic"}})
    config = load_config(tmp_path, {"HATCHDOIT_AGENT": "claude-code"})
    assert (config.agents.factory, config.agents.qa) == ("claude-code", "claude-code")


def test_agent_shortcut_overrides_the_taskspecs_own_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HATCHDOIT_AGENT is for a whole run: it beats a TaskSpec's `agent:` too."""
    project = make_project(tmp_path)
    project.add_taskspec("T1-CHOSEN", agent={"factory": "generic", "qa": "generic"})
    monkeypatch.delenv("HATCHDOIT_AGENT", raising=False)
    load_project.cache_clear()
    assert load_project(project.root).profile_name("T1-CHOSEN", "factory") == "generic"
    monkeypatch.setenv("HATCHDOIT_AGENT", "scripted")
    load_project.cache_clear()
    chosen = load_project(project.root)
    assert [chosen.profile_name("T1-CHOSEN", r) for r in ("factory", "qa")] == ["scripted"] * 2
    load_project.cache_clear()


def test_specs_shortcut(tmp_path: Path) -> None:
    write_config(tmp_path, {"specs": "from-file"})
    assert load_config(tmp_path, {"HATCHDOIT_SPECS": "/plans/repo"}).specs == "/plans/repo"


def test_precedence_file_overlay_variables_shortcuts(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "specs": "file",
            "agents": {"factory": "file", "qa": "file"},
            "limits": {"max_attempts": 2},
            "environments": {
                "ci": {
                    "specs": "overlay",
                    "agents": {"factory": "overlay"},
                    "limits": {"max_attempts": 3},
                }
            },
        },
    )
    env: dict[str, str] = {}
    assert load_config(tmp_path, env).limits.max_attempts == 2

    env["HATCHDOIT_ENV"] = "ci"
    config = load_config(tmp_path, env)
    assert (config.limits.max_attempts, config.specs, config.agents.factory) == (
        3,
        "overlay",
        "overlay",
    )

    env.update(
        HATCHDOIT__LIMITS__MAX_ATTEMPTS="4",
        HATCHDOIT__SPECS="var",
        HATCHDOIT__AGENTS__FACTORY="var",
    )
    config = load_config(tmp_path, env)
    assert (config.limits.max_attempts, config.specs, config.agents.factory) == (4, "var", "var")
    assert config.agents.qa == "file"

    env.update(HATCHDOIT_SPECS="shortcut", HATCHDOIT_AGENT="shortcut")
    config = load_config(tmp_path, env)
    assert (config.specs, config.agents.factory, config.agents.qa) == (
        "shortcut",
        "shortcut",
        "shortcut",
    )
    assert config.limits.max_attempts == 4


def test_empty_shortcuts_are_ignored(tmp_path: Path) -> None:
    write_config(tmp_path, {"specs": "file", "agents": {"qa": "generic"}})
    config = load_config(tmp_path, {"HATCHDOIT_SPECS": "", "HATCHDOIT_AGENT": ""})
    assert config.specs == "file"
    assert config.agents.qa == "generic"


# --- invalid values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, field",
    [
        ({"limits": {"max_attempts": 0}}, "limits.max_attempts"),
        ({"limits": {"max_attempts": 21}}, "limits.max_attempts"),
        ({"limits": {"parallel_sessions": "many"}}, "limits.parallel_sessions"),
        ({"limits": {"factory": {"wall_timeout": -1}}}, "limits.factory.wall_timeout"),
        ({"limits": {"backoff": {"jitter": 2}}}, "limits.backoff.jitter"),
        ({"integrate": "squash"}, "integrate"),
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
            {"integrate": "squash"},
            "change integrate in hatchdoit.yaml to one of: none, merge, rebase",
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
