"""Profiles and prompt templates come from the installed package; a project's own agents dir
(`agents/`, or hatchdoit.yaml's `agents_dir`) is looked in first, by name: a file there
overrides the bundled one of its name or adds one, and nothing else of it is read."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import run_doit
from projects import HatchProject

from hatchdoit.agents.profiles import load_profile, profile_names
from hatchdoit.agents.prompts import render_prompt, template_path
from hatchdoit.core import bundled
from hatchdoit.core.errors import ConfigError
from hatchdoit.project import agents_search, load_project


def own_agents(root: Path) -> Path:
    """A user's agents/: their own code and YAML, one profile of theirs, one template."""
    agents = root / "agents"
    (agents / "prompts").mkdir(parents=True)
    (agents / "__init__.py").write_text('"""their own package"""\n')
    (agents / "settings.yaml").write_text("model: theirs\n")  # not a profile: never read
    mine = yaml.safe_load((bundled.AGENTS / "scripted.yaml").read_text())
    mine["name"] = "mine"
    (agents / "mine.yaml").write_text(yaml.safe_dump(mine))
    (agents / "prompts" / "qa.md").write_text("Review ${taskspec_id} strictly.\n")
    return agents


def test_an_own_agents_dir_adds_and_overrides_by_name(tmp_path: Path) -> None:
    agents = own_agents(tmp_path)
    dirs = agents_search(tmp_path, "agents")
    assert dirs == (agents.resolve(), bundled.AGENTS)
    assert load_profile(dirs, "scripted").path == bundled.AGENTS / "scripted.yaml"
    assert load_profile(dirs, "mine").path == agents.resolve() / "mine.yaml"
    assert {"mine", "scripted", "claude-code", "codex"} <= set(profile_names(dirs))
    assert template_path(dirs, "qa") == agents.resolve() / "prompts" / "qa.md"
    assert template_path(dirs, "factory") == bundled.AGENTS / "prompts" / "factory.md"
    assert render_prompt(dirs, "qa", {"taskspec_id": "T-1"}) == "Review T-1 strictly.\n"
    with pytest.raises(ConfigError, match="unknown agent profile 'settings'") as caught:
        load_profile([bundled.AGENTS], "settings")
    assert "mine" not in str(caught.value.fix)


def test_without_an_own_agents_dir_everything_is_bundled(tmp_path: Path) -> None:
    assert agents_search(tmp_path, "agents") == (bundled.AGENTS,)
    assert agents_search(tmp_path, "elsewhere") == (bundled.AGENTS,)


def test_agents_dir_names_the_own_folder(project: HatchProject) -> None:
    own_agents(project.root / "hatchdoit-agents")
    (project.root / "hatchdoit-agents" / "agents").rename(project.root / "theirs")
    project.configure(agents_dir="theirs", agents={"factory": "mine", "qa": "scripted"})
    project.add_taskspec("T-OWN-1")
    loaded = load_project(project.root)
    assert loaded.agents_dirs[0] == (project.root / "theirs").resolve()
    assert loaded.profile("T-OWN-1", "factory").path.parent == (project.root / "theirs").resolve()
    assert loaded.profile("T-OWN-1", "qa").path.parent == bundled.AGENTS


def test_scripts_dir_replaces_the_bundled_scripts(project: HatchProject) -> None:
    """For a user who really needs other scripts: a full copy of them, named in hatchdoit.yaml;
    a build runs those (here a launcher that leaves a mark first)."""
    scripts = project.root / "my-scripts"
    shutil.copytree(bundled.SCRIPTS, scripts)
    launcher = scripts / "agent" / "launch_factory.sh"
    mark = project.root / "my-launcher-ran"
    text = launcher.read_text().replace("set -euo pipefail\n", f"set -euo pipefail\n: >{mark}\n", 1)
    launcher.write_text(text)
    project.configure(scripts_dir="my-scripts")
    project.add_taskspec("T-SCRIPTS-1")
    assert load_project(project.root).scripts_dir == scripts.resolve()
    built = run_doit(project)
    assert built.returncode == 0, built.stdout + built.stderr
    assert mark.exists()
    doctor = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(project.root), "doctor"],
        env=project.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert f"scripts {scripts.resolve()}" in doctor.stdout, doctor.stdout
