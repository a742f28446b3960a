"""The README's two commands are what CI runs: `.ci/run` reads them from README.md's first bash
block (`.ci/run --print-commands` prints what it read), the GitHub workflow runs the test
command, both run the tools from .venv (no system interpreter, no activation), and nothing in
the README installs into the system's Python with pip (PEP 668 refuses it on Debian and Ubuntu).
"""

from __future__ import annotations

import re
import subprocess

import yaml
from projects import CHECKOUT


def readme_commands() -> list[str]:
    text = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    block = text.split("```bash\n", 1)[1].split("\n```", 1)[0]
    return [re.sub(r"\s+#.*$", "", line) for line in block.splitlines()]


def test_ci_run_runs_the_readme_commands() -> None:
    printed = subprocess.run(
        ["bash", str(CHECKOUT / ".ci" / "run"), "--print-commands"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert printed == readme_commands()
    demo, test = printed
    assert demo == "bash .ci/setup && .venv/bin/doit"
    assert test == "bash .ci/setup --test && .venv/bin/python -m pytest"


def test_the_workflow_runs_the_readme_test_command_on_linux_and_macos() -> None:
    workflow = yaml.safe_load((CHECKOUT / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["os"] == ["ubuntu-latest", "macos-latest"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert "bash .ci/run" in runs  # Linux: which runs the README's test command
    assert readme_commands()[1] in runs  # macOS: the command itself


def test_the_readme_never_pip_installs_into_the_system_python() -> None:
    text = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    pip = re.compile(r"(sudo\s+)?(python3?\s+-m\s+)?pip3?\s+install")
    bad = [line for line in lines if pip.match(line)]
    assert not bad, bad
