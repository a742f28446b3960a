"""`hatchdoit doctor` on real projects with stand-in agent CLIs (small sh scripts answering
`--version` and `exec --help` as the real ones do): the tools it checks, a bad config, hook
scripts that cannot run, each agent profile's hook contract and credentials, and its exit code
and output. A problem of a profile the project uses is a failure; of one it does not, a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from projects import HatchProject

from hatchdoit.cli import doctor
from hatchdoit.cli.doctor_check import Check
from hatchdoit.cli.doctor_system import check_scripts
from hatchdoit.core.bundled import SCRIPTS as BUNDLED_SCRIPTS

pytestmark = pytest.mark.integration

CREDENTIALS = ("ANTHROPIC_", "CLAUDE_", "OPENAI_", "CODEX_", "IS_SANDBOX")
CODEX_HELP_WITH_JSON = "Usage: codex exec [OPTIONS] [PROMPT]\n      --json  Print events as JSONL"


def stand_in(directory: Path, name: str, answers: dict[str, str]) -> Path:
    """An executable `name` printing answers[first argument] (a version, a help text)."""
    directory.mkdir(exist_ok=True)
    cases = "".join(f"  {arg}) cat <<'EOF'\n{text}\nEOF\n  ;;\n" for arg, text in answers.items())
    path = directory / name
    path.write_text(f'#!/bin/sh\ncase "$1" in\n{cases}  *) exit 64 ;;\nesac\n')
    path.chmod(0o755)
    return path


def clean_env(project: HatchProject, **extra: str) -> dict[str, str]:
    """The project's environment without any agent credentials of the machine running the test."""
    env = {k: v for k, v in project.env.items() if not k.startswith(CREDENTIALS)}
    return {**env, **extra}


def checks_of(project: HatchProject, environ: dict[str, str], name: str) -> list[Check]:
    return [c for c in doctor.run_doctor(project.root, environ) if c.name == name]


def statuses(checks: list[Check]) -> list[str]:
    return [c.status for c in checks]


def run_cli(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "hatchdoit", "--root", str(root), "doctor", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


# --------------------------------------------------------------------------------------------
# tools, config, scripts


def test_a_healthy_project_has_no_failure_and_exits_0(project: HatchProject) -> None:
    done = run_cli(project.root, clean_env(project), "--profile", "scripted")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("doctor: 0 failure(s), ")
    assert any(line.startswith("ok    config ") and "factory scripted" in line for line in lines)
    assert not any("FAIL" in line for line in lines), done.stdout


def test_an_old_tmux_on_path_fails_with_its_fix(project: HatchProject, tmp_path: Path) -> None:
    fake = stand_in(tmp_path / "bin", "tmux", {"-V": "tmux 2.9"})
    env = clean_env(project, PATH=f"{fake.parent}{os.pathsep}{project.env['PATH']}")
    done = run_cli(project.root, env, "--profile", "scripted", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert failed == [
        {
            "name": "tmux",
            "status": "fail",
            "detail": "tmux 2.9",
            "fix": "apt-get install tmux (3.0 or newer)",
        }
    ]
    assert report["failures"] == 1


def test_a_bad_config_is_one_failure_naming_file_field_and_fix(project: HatchProject) -> None:
    config = project.root / "hatchdoit.yaml"
    config.write_text(config.read_text() + "limits:\n  poll_interval: fast\n")
    done = run_cli(project.root, clean_env(project), "--profile", "scripted")
    assert done.returncode == 1, done.stdout + done.stderr
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and fails[0].split()[1] == "config", done.stdout
    assert str(config) in fails[0] and "limits.poll_interval" in done.stdout
    assert "fix: change limits.poll_interval in hatchdoit.yaml to a number" in done.stdout


def test_a_directory_that_is_no_project_says_so_and_names_no_config_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    by_name = {c.name: c for c in doctor.run_doctor(empty, {"PATH": os.environ["PATH"]})}
    assert by_name["project"].status == "warn"
    assert by_name["project"].fix == "hatchdoit init --specs PATH"
    assert by_name["config"].status == "ok"
    assert by_name["config"].detail.startswith("no hatchdoit.yaml: defaults")
    assert by_name["planning repo"].status == "fail"
    assert "hatchdoit init --specs PATH" in by_name["planning repo"].fix


def test_a_hook_script_that_cannot_run_fails_with_chmod(tmp_path: Path) -> None:
    resources = tmp_path / "resources"
    shutil.copytree(BUNDLED_SCRIPTS, resources / "scripts")
    hook = resources / "scripts" / "agent" / "stop_hook.sh"
    hook.chmod(0o644)
    checks = check_scripts(resources / "scripts")
    assert [(c.name, c.status) for c in checks] == [
        ("script stop_hook.sh", "fail"),
        ("stop hook", "ok"),
    ]
    assert checks[0].fix == f"chmod +x {hook}"


# --------------------------------------------------------------------------------------------
# Claude Code


def use_claude(project: HatchProject, tmp_path: Path, version: str, **params: object) -> Path:
    project.configure(
        agents={"factory": "claude-code", "qa": "scripted"},
        agent_params={"claude-code": params},
    )
    return stand_in(tmp_path / "bin", "claude", {"--version": f"{version} (Claude Code)"})


def test_claude_older_than_the_checked_version_is_a_warning_naming_it(
    project: HatchProject, tmp_path: Path
) -> None:
    claude = use_claude(project, tmp_path, "2.0.5")
    env = clean_env(project, HATCHDOIT_CLAUDE_BIN=str(claude), ANTHROPIC_API_KEY="k")
    checks = checks_of(project, env, "agent claude-code")
    assert statuses(checks) == ["ok", "warn", "ok", "warn"], checks
    assert checks[0].detail == f"{claude} 2.0.5 (Claude Code)"
    assert "checked with 2.1.330; this is 2.0.5" in checks[1].detail
    assert checks[1].fix == "npm install -g @anthropic-ai/claude-code@latest"
    assert checks[2].detail == "credentials: ANTHROPIC_API_KEY passed through to the Anthropic API"
    assert checks[3].detail.startswith(
        "provider-fault signals were checked with Claude Code 2.1.330; this is 2.0.5 (Claude Code)"
    )


def test_the_fault_table_names_the_versions_it_was_checked_with(
    project: HatchProject, tmp_path: Path
) -> None:
    """doctor reads the same table (providers/fault_tables.py) the classifier and tests use."""
    from hatchdoit.providers.fault_tables import CLAUDE_CODE

    pinned = CLAUDE_CODE.checked[-1]
    claude = use_claude(project, tmp_path, pinned)
    env = clean_env(project, HATCHDOIT_CLAUDE_BIN=str(claude), ANTHROPIC_API_KEY="k")
    checks = checks_of(project, env, "agent claude-code")
    signals = [c for c in checks if "provider-fault" in c.detail]
    assert [(c.status, c.detail) for c in signals] == [
        ("ok", f"provider-fault signals: checked with Claude Code {pinned}")
    ]


@pytest.mark.parametrize(
    ("extra", "params", "status", "says"),
    [
        ({}, {}, "warn", "no ANTHROPIC_API_KEY"),
        ({}, {"config_home": "user"}, "ok", "your own Claude config home"),
        (
            {"ANTHROPIC_AUTH_TOKEN": "t", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"},
            {},
            "ok",
            "ANTHROPIC_AUTH_TOKEN passed through to http://127.0.0.1:9",
        ),
    ],
    ids=["none", "own-login", "token-and-base-url"],
)
def test_claude_credentials(
    project: HatchProject,
    tmp_path: Path,
    extra: dict[str, str],
    params: dict[str, str],
    status: str,
    says: str,
) -> None:
    claude = use_claude(project, tmp_path, "2.1.330", **params)
    env = clean_env(project, HATCHDOIT_CLAUDE_BIN=str(claude), **extra)
    credentials = checks_of(project, env, "agent claude-code")[2]
    assert credentials.status == status and says in credentials.detail, credentials
    assert ("setup-token" in credentials.fix) is (status == "warn")


@pytest.mark.parametrize("sandbox", [False, True], ids=["plain", "IS_SANDBOX=1"])
def test_skip_permissions_as_root_fails_unless_in_a_sandbox(
    project: HatchProject, tmp_path: Path, sandbox: bool
) -> None:
    claude = use_claude(project, tmp_path, "2.1.330", skip_permissions=True)
    env = clean_env(project, HATCHDOIT_CLAUDE_BIN=str(claude), ANTHROPIC_API_KEY="k")
    if sandbox:
        env["IS_SANDBOX"] = "1"
    checks = checks_of(project, env, "agent claude-code")
    refused = [c for c in checks if "skip_permissions as root" in c.detail]
    expected = os.geteuid() == 0 and not sandbox
    assert [c.status for c in refused] == (["fail"] if expected else []), checks
    if expected:
        assert "IS_SANDBOX=1" in refused[0].fix


def test_a_claude_binary_that_does_not_run_fails_only_where_used(
    project: HatchProject, tmp_path: Path
) -> None:
    broken = stand_in(tmp_path / "bin", "claude", {})  # exits 64 to --version
    env = clean_env(project, HATCHDOIT_CLAUDE_BIN=str(broken))
    unused = checks_of(project, env, "agent claude-code")
    assert statuses(unused) == ["skip"] and "(not used by this project)" in unused[0].detail
    project.configure(agents={"factory": "claude-code"})
    used = checks_of(project, env, "agent claude-code")
    assert statuses(used) == ["fail"] and f"{broken} does not run" in used[0].detail
    assert used[0].fix == "npm install -g @anthropic-ai/claude-code"


# --------------------------------------------------------------------------------------------
# Codex and the generic profile


def use_codex(project: HatchProject, tmp_path: Path, exec_help: str) -> dict[str, str]:
    project.configure(agents={"factory": "codex", "qa": "scripted"})
    codex = stand_in(
        tmp_path / "bin", "codex", {"--version": "codex-cli 0.98.0", "exec": exec_help}
    )
    home = tmp_path / "codex-home"
    home.mkdir()
    return clean_env(project, HATCHDOIT_CODEX_BIN=str(codex), CODEX_HOME=str(home))


def test_codex_without_exec_json_fails_where_used(project: HatchProject, tmp_path: Path) -> None:
    env = use_codex(project, tmp_path, "Usage: codex exec [PROMPT]")
    checks = checks_of(project, env, "agent codex")
    assert statuses(checks) == ["ok", "fail", "warn", "warn"], checks
    assert checks[1].detail == "`codex exec` has no --json"
    assert checks[2].fix == "export OPENAI_API_KEY, or run `codex login`"
    assert run_cli(project.root, env, "--profile", "codex").returncode == 1


def test_codex_login_file_counts_as_credentials(project: HatchProject, tmp_path: Path) -> None:
    env = use_codex(project, tmp_path, CODEX_HELP_WITH_JSON)
    (Path(env["CODEX_HOME"]) / "auth.json").write_text("{}")
    checks = checks_of(project, env, "agent codex")
    assert statuses(checks) == ["ok", "ok", "ok", "warn"], checks  # 0.98.0: not the checked one
    assert checks[1].detail.startswith("hook contract: exec --json")
    assert checks[2].detail.startswith("credentials: auth.json, your Codex login")
    assert run_cli(project.root, env, "--profile", "codex").returncode == 0


def test_generic_command_must_be_on_path(project: HatchProject) -> None:
    project.configure(
        agents={"factory": "generic", "qa": "scripted"},
        agent_params={"generic": {"command": ["no-such-agent-cli", "{prompt_file}"]}},
    )
    missing = checks_of(project, clean_env(project), "agent generic")
    assert statuses(missing) == ["ok", "fail"], missing
    assert missing[1].detail == "command 'no-such-agent-cli' not on PATH"
    project.configure(agent_params={"generic": {"command": ["sh", "{prompt_file}"]}})
    found = checks_of(project, clean_env(project), "agent generic")
    assert statuses(found) == ["ok", "ok"], found
    assert found[1].detail == f"command: {shutil.which('sh', path=project.env['PATH'])}"
