"""Temp hatchdoit projects for the integration tests and the benchmarks: a project directory
(dodo.py + hatchdoit.yaml), its planning repo with `_specs/`, a seed for the target repo and a
clean environment (own HOME, no system or user git config, no HATCHDOIT_* variables, a tmux
socket in its own TMUX_TMPDIR). conftest.py's `project` fixture makes one per test and kills its
tmux server at teardown; the bench makes them in its sandbox.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from hatchdoit.config.loader import deep_merge
from hatchdoit.layout import Layout

CHECKOUT = Path(__file__).resolve().parent.parent
TEST_COMMAND = "python3 -m unittest discover -s tests -q"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Hatchdoit Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Hatchdoit Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def doit_executable() -> str:
    """The `doit` of the interpreter running the tests (a pyenv shim would depend on HOME/cwd)."""
    beside = Path(sys.executable).parent / "doit"
    if beside.is_file():
        return str(beside)
    found = shutil.which("doit")
    if found is None:
        pytest.skip("doit is not installed")
    return found


# --------------------------------------------------------------------------------------------
# Planning repo helpers


def _front_matter(data: dict[str, Any], body: str) -> str:
    head = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return f"---\n{head}---\n{body.rstrip()}\n"


def write_featspec(planning: Path, fid: str, title: str = "A feature", body: str = "") -> Path:
    """Write `_specs/featspecs/<fid>.md` and return its path."""
    path = planning / "_specs" / "featspecs" / f"{fid}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"id": fid, "title": title, "kind": "featspec", "status": "planned"}
    path.write_text(_front_matter(data, body or f"FeatSpec {fid}."), encoding="utf-8")
    return path


def write_taskspec(
    planning: Path,
    tid: str,
    featspec: str,
    body: str,
    *,
    title: str | None = None,
    depends_on: list[str] | None = None,
    scripted: dict[str, Any] | None = None,
    loc_cap: int = 200,
    test_command: str = TEST_COMMAND,
    max_attempts: int | None = None,
    agent: dict[str, str] | None = None,
) -> Path:
    """Write `_specs/taskspecs/<tid>.md` (YAML front matter + Markdown body) and return its path.

    The body's ```file:PATH``` fenced blocks tell the scripted agent which files to write.
    """
    path = planning / "_specs" / "taskspecs" / f"{tid}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "id": tid,
        "title": title or f"TaskSpec {tid}",
        "kind": "taskspec",
        "featspec": featspec,
        "loc_cap": loc_cap,
        "test_command": test_command,
        "depends_on": list(depends_on or []),
    }
    if max_attempts is not None:
        data["max_attempts"] = max_attempts
    if scripted is not None:
        data["scripted"] = scripted
    if agent is not None:
        data["agent"] = agent
    path.write_text(_front_matter(data, body), encoding="utf-8")
    return path


def module_body(module: str, func: str, value: str = "ok", note: str = "") -> str:
    """A tiny TaskSpec body: one module under src/app/ and one passing unittest for it."""
    return f"""Add `app.{module}.{func}()` returning {value!r}. {note}

```file:src/app/{module}.py
\"\"\"Module {module}.\"\"\"


def {func}() -> str:
    \"\"\"Return {value!r}.\"\"\"
    return {value!r}
```

```file:tests/test_{module}.py
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from app.{module} import {func}  # noqa: E402


class {func.title().replace("_", "")}Test(unittest.TestCase):
    def test_value(self) -> None:
        self.assertEqual({func}(), {value!r})
```
"""


def write_seed(seed: Path) -> Path:
    """A tiny target repo seed: a package and one passing unittest."""
    files = {
        "README.md": "# app\n\nA tiny target repo for hatchdoit tests.\n",
        ".gitignore": "__pycache__/\n*.pyc\n",
        "src/app/__init__.py": '"""app: the target package."""\n',
        "tests/__init__.py": "",
        "tests/test_base.py": (
            "import unittest\n\n\n"
            "class BaseTest(unittest.TestCase):\n"
            "    def test_truth(self) -> None:\n"
            "        self.assertTrue(True)\n"
        ),
    }
    for rel, text in files.items():
        target = seed / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return seed


# --------------------------------------------------------------------------------------------
# The project


@dataclass
class HatchProject:
    """A temp hatchdoit project: root (dodo.py, hatchdoit.yaml), planning repo, seed, socket."""

    root: Path
    planning: Path
    seed: Path
    socket: str
    env: dict[str, str]
    config: dict[str, Any] = field(default_factory=dict)
    featspec: str = "FS-001-TEST"

    @property
    def layout(self) -> Layout:
        return Layout(self.root)

    @property
    def logs(self) -> Path:
        return self.layout.logs

    @property
    def target(self) -> Path:
        """The target repo the test projects build into (`target.repo: _target`)."""
        return self.root / "_target"

    def commit_on_target_once(self) -> list[str]:
        """An argv that commits on the target's checked-out branch the first time it runs (as
        someone pushing while the merged tree is tested), then does nothing."""
        flag = self.root.parent / "committed"
        script = (
            "import pathlib, subprocess\n"
            f"flag = pathlib.Path({str(flag)!r})\n"
            "if not flag.exists():\n"
            "    flag.touch()\n"
            f"    subprocess.run(['git', '-C', {str(self.target)!r}, 'commit', '--allow-empty',"
            " '-q', '-m', 'someone else'], check=True)\n"
        )
        return [sys.executable, "-c", script]

    def configure(self, **overrides: Any) -> None:
        """Deep-merge `overrides` into hatchdoit.yaml and rewrite it."""
        self.config = deep_merge(self.config, overrides)
        (self.root / "hatchdoit.yaml").write_text(
            yaml.safe_dump(self.config, sort_keys=False), encoding="utf-8"
        )

    def add_taskspec(self, tid: str, body: str | None = None, **kwargs: Any) -> Path:
        """write_taskspec into this project's planning repo (default body: a one-module task)."""
        if body is None:
            slug = "".join(c for c in tid.lower() if c.isalnum()) or "mod"
            body = module_body(f"m_{slug}", f"f_{slug}")
        return write_taskspec(self.planning, tid, self.featspec, body, **kwargs)

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def session_alive(self, session: str) -> bool:
        return self.tmux("has-session", "-t", f"={session}").returncode == 0


def isolated_env(home: Path) -> dict[str, str]:
    """The environment a test runs hatchdoit in: this one without hatchdoit's settings, tmux's
    or git's of the caller, with a home and git config of its own (`home`, made here), the
    test identity, and a tmux socket directory of its own (short: socket paths are limited to
    ~100 bytes)."""
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATCHDOIT_")}
    for name in ("TMUX", "TMUX_PANE", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        PYTHONDONTWRITEBYTECODE="1",
        TMUX_TMPDIR=tempfile.mkdtemp(prefix="hdt-"),
        **IDENTITY,
    )
    return env


def make_project(tmp_path: Path, *, seed: Path | None = None) -> HatchProject:
    """Build a project under tmp_path (see module docstring); the caller owns the teardown."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copyfile(CHECKOUT / "dodo.py", root / "dodo.py")
    planning = tmp_path / "planning"
    if seed is None:
        seed = write_seed(tmp_path / "seed")
    env = isolated_env(tmp_path / "home")
    socket = f"hd-test-{uuid.uuid4().hex[:12]}"
    project = HatchProject(root=root, planning=planning, seed=seed, socket=socket, env=env)
    write_featspec(planning, project.featspec, "Test feature")
    project.configure(
        specs=str(planning),
        target={"repo": "_target", "seed": str(seed)},
        tmux_socket=socket,
        agents={"factory": "scripted", "qa": "scripted"},
        # The test's home has no sandbox installed: `auto` would warn on every build. The
        # confinement tests (tests/test_confinement_*.py) set the mode they test.
        confinement={"mode": "off"},
        limits={
            "max_attempts": 3,
            "parallel_sessions": 4,
            "summary_injections": 2,
            "test_timeout": 60,
            "poll_interval": 0.2,
            "submit_timeout": 5,
            "factory": {"wall_timeout": 120, "idle_timeout": 60, "ready_timeout": 20},
            "qa": {"wall_timeout": 120, "idle_timeout": 60, "ready_timeout": 20},
            "backoff": {"base": 0, "jitter": 0},
        },
    )
    return project
