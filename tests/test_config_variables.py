"""Environment overrides of hatchdoit.yaml (hatchdoit.config): HATCHDOIT__SECTION__KEY variables
(YAML-typed, merged with the file), the HATCHDOIT_AGENT and HATCHDOIT_SPECS shortcuts, and the
precedence of file, overlay, variables and shortcuts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from config_loading import write_config
from projects import make_project

from hatchdoit.config.loader import load_config
from hatchdoit.config.models import HatchdoitConfig
from hatchdoit.layout import Layout
from hatchdoit.project import load_project

# --- environment variables ---------------------------------------------------------------------


def defaults(root: Path) -> HatchdoitConfig:
    """The configuration of a project at `root` with no file and no variables: the model's
    defaults, and the tmux socket of that project's own."""
    return HatchdoitConfig(tmux_socket=Layout(root).default_socket)


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
    assert load_config(tmp_path, environ) == defaults(tmp_path)


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
