"""hatchdoit.yaml (hatchdoit.config): the defaults, the file's values, the errors of a file that
cannot be read, and HATCHDOIT_ENV overlays deep-merged over it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from config_loading import config_error, write_config

from hatchdoit.config.loader import CONFIG_FILE, load_config
from hatchdoit.config.models import HatchdoitConfig
from hatchdoit.layout import Layout

# --- defaults and the file ---------------------------------------------------------------------


def defaults(root: Path) -> HatchdoitConfig:
    """The configuration of a project at `root` with no file and no variables: the model's
    defaults, and the tmux socket of that project's own."""
    return HatchdoitConfig(tmux_socket=Layout(root).default_socket)


def test_defaults_without_file(tmp_path: Path) -> None:
    config = load_config(tmp_path, {})
    assert config == defaults(tmp_path)
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
    assert load_config(tmp_path, {}) == defaults(tmp_path)


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
    assert load_config(tmp_path, {"HATCHDOIT_ENV": name}) == defaults(tmp_path)
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


def test_the_default_tmux_socket_is_the_projects_own(tmp_path: Path) -> None:
    """Two checkouts of one project (same folder name) get two servers; a named one is kept."""
    first, second = tmp_path / "a" / "app", tmp_path / "b" / "app"
    for root in (first, second):
        root.mkdir(parents=True)
    sockets = {load_config(root, {}).tmux_socket for root in (first, second)}
    assert len(sockets) == 2
    assert all(re.fullmatch(r"hatchdoit-app-[0-9a-f]{8}", s) for s in sockets), sockets
    write_config(first, {"tmux_socket": "shared"})
    assert load_config(first, {}).tmux_socket == "shared"
