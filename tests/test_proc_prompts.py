"""The two small helpers every step goes through: hatchdoit.proc.run (argv only, one StepError
line for a command that cannot run or fails) and hatchdoit.prompts.render_prompt (a template's
$placeholders filled once, as data; a bad template is a ConfigError naming the file)."""

from __future__ import annotations

import shutil
import string
import sys
import time
from pathlib import Path

import psutil
import pytest

from hatchdoit.agents.prompts import TEMPLATE_NAMES, render_prompt, template_path
from hatchdoit.core.bundled import AGENTS as BUNDLED_AGENTS
from hatchdoit.core.errors import ConfigError, StepError
from hatchdoit.core.proc import run

# --------------------------------------------------------------------------------------------
# proc.run


def test_run_passes_argv_untouched_and_captures_text(tmp_path: Path) -> None:
    hostile = "$(touch pwned); `touch pwned2` | rm -rf / ; 'x\"y"
    done = run([sys.executable, "-c", "import sys; print(sys.argv[1])", hostile], cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == hostile + "\n"
    assert not list(tmp_path.iterdir())  # nothing a shell would have run


def test_a_failing_command_is_one_step_error_with_its_last_line() -> None:
    code = (
        "import sys; print('noise'); print('first', file=sys.stderr); "
        "print('the cause', file=sys.stderr); sys.exit(3)"
    )
    with pytest.raises(StepError) as caught:
        run([sys.executable, "-c", code], operation="checks", taskspec_id="T-1")
    err = caught.value
    assert err.message == f"{Path(sys.executable).name} exited 3: the cause"
    assert (err.operation, err.taskspec_id) == ("checks", "T-1")


def test_check_false_returns_the_failure_instead() -> None:
    done = run([sys.executable, "-c", "raise SystemExit(5)"], check=False)
    assert done.returncode == 5


def test_a_missing_program_and_a_timeout_are_step_errors() -> None:
    with pytest.raises(StepError, match=r"^/no/such/program could not run: .*No such file"):
        run(["/no/such/program"])
    with pytest.raises(StepError, match=r"did not finish in 0\.2s: stopped it and its children"):
        run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.2)


def test_a_timeout_kills_the_children_too(tmp_path: Path) -> None:
    """A script whose child outlives it would go on working after the caller gave up (and
    released its lock): the timeout kills the whole process group."""
    pid_file = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    with pytest.raises(StepError, match="did not finish"):
        run(["bash", "-c", script], timeout=0.5)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.05)
    assert not _running(pid), f"the script's child {pid} outlived the timeout"


def _running(pid: int) -> bool:
    """Whether `pid` runs (a zombie, reaped by nobody here, does not count)."""
    try:  # psutil: macOS has no /proc
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_env_replaces_the_environment() -> None:
    done = run([sys.executable, "-c", "import os; print(sorted(os.environ))"], env={"ONLY": "1"})
    assert "'ONLY'" in done.stdout and "'HOME'" not in done.stdout


# --------------------------------------------------------------------------------------------
# prompts.render_prompt


@pytest.fixture
def agents_dir(tmp_path: Path) -> list[Path]:
    """One agents dir: a copy of the bundled templates (the tests edit and delete them)."""
    agents = tmp_path / "agents"
    shutil.copytree(BUNDLED_AGENTS / "prompts", agents / "prompts")
    return [agents]


def test_bundled_templates_fill_and_taskspec_text_stays_data(agents_dir: list[Path]) -> None:
    for name in TEMPLATE_NAMES:
        text = template_path(agents_dir, name).read_text(encoding="utf-8")
        names = string.Template(text).get_identifiers()
        assert names, f"{name}.md has no placeholder"
        values = {key: f"<{key}: $HOME ${{PATH}} $$>" for key in names}
        filled = render_prompt(agents_dir, name, values)
        for key in names:
            assert values[key] in filled  # substituted once, as written: no second expansion


def test_a_misspelt_placeholder_names_the_file_and_the_known_ones(agents_dir: list[Path]) -> None:
    path = template_path(agents_dir, "factory")
    path.write_text("Build $taskspec_idd now\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        render_prompt(agents_dir, "factory", {"taskspec_id": "T", "worktree": "/w"})
    err = caught.value
    assert err.path == str(path) and err.message == "unknown placeholder 'taskspec_idd'"
    assert err.fix == "use only ${taskspec_id}, ${worktree}, or $$ for a literal $"


def test_a_lone_dollar_and_a_missing_template_are_config_errors(agents_dir: list[Path]) -> None:
    template_path(agents_dir, "qa").write_text("costs $5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown placeholder"):
        render_prompt(agents_dir, "qa", {})
    template_path(agents_dir, "qa").write_text("costs $$5\n", encoding="utf-8")
    assert render_prompt(agents_dir, "qa", {}) == "costs $5\n"
    template_path(agents_dir, "summary").unlink()
    with pytest.raises(ConfigError) as caught:
        render_prompt(agents_dir, "summary", {})
    assert caught.value.path == str(template_path(agents_dir, "summary"))
    assert "cannot read prompt template: No such file or directory" in caught.value.message
