"""Agent profiles and what a launch derives from them (hatchdoit.agents.profiles and .setup), the
generic profile end to end with agents/examples/generic_agent.py, and `hatchdoit doctor`.
The stop hook's guard and the headless runner are in test_stop_guard.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import run_doit
from fake_generic_cli import generic_command
from projects import HatchProject, module_body

from hatchdoit.agents.profiles import AgentProfile, LoadedProfile, load_profile, render_argv
from hatchdoit.agents.session_env import passthrough_env
from hatchdoit.agents.setup import SessionPaths, prepare_session
from hatchdoit.cli import doctor
from hatchdoit.cli.doctor_check import Check
from hatchdoit.cli.main import main as cli_main
from hatchdoit.core.bundled import AGENTS, SCRIPTS
from hatchdoit.core.errors import ConfigError
from hatchdoit.records.models import DoneRecord, StopRecord
from hatchdoit.records.schemas import load_valid

STOP_HOOK = SCRIPTS / "agent" / "stop_hook.sh"
MARKER_HOOK = SCRIPTS / "agent" / "marker_hook.sh"
BUNDLED = ("scripted", "claude-code", "claude-code-headless", "codex", "generic")


def paths_in(tmp_path: Path) -> SessionPaths:
    worktree = tmp_path / "_worktrees" / "T1"
    worktree.mkdir(parents=True)
    logs = tmp_path / "_logs"
    return SessionPaths(
        run_dir=logs / "sessions" / "T1" / "factory-001",
        worktree=worktree,
        logs_dir=logs,
        scripts_dir=SCRIPTS,
        stream_log=logs / "factory" / "T1" / "stream-001.jsonl",
    )


def base_values(role: str = "factory") -> dict[str, str]:
    return {
        "python": sys.executable,
        "agents_dir": str(AGENTS),
        "scripts_dir": str(SCRIPTS),
        "role": role,
        "worktree": "/w",
        "prompt_file": "/tmp/hatchdoit-test/prompt-001.md",
        "taskspec_id": "T1",
        "attempt": "1",
    }


def executable(tmp_path: Path, name: str = "claude") -> Path:
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\necho '2.1.330 (Claude Code)'\n", encoding="utf-8")
    path.chmod(0o755)
    return path


# --------------------------------------------------------------------------------------------
# profiles and argv


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_profiles_load(name: str) -> None:
    loaded = load_profile([AGENTS], name)
    assert loaded.profile.name == name
    if name.startswith("claude-code"):
        assert loaded.profile.setup == "claude" and loaded.profile.stop_guard == 2


def test_scripted_launch_is_unchanged(tmp_path: Path) -> None:
    """No setup, no parameters: exactly the rendered argv, no extra env, no files."""
    paths = paths_in(tmp_path)
    setup = prepare_session(
        load_profile([AGENTS], "scripted"),
        values=base_values(),
        overrides={},
        paths=paths,
        extra_env={},
        environ={"ANTHROPIC_API_KEY": "k", "PATH": os.environ["PATH"]},
    )
    script = str(AGENTS / "scripted" / "scripted_agent.py")
    assert setup.argv == [sys.executable, "-S", script, "--role", "factory"]
    assert setup.env == {}
    assert not paths.run_dir.exists()


def synthetic(**fields: Any) -> LoadedProfile:
    profile = AgentProfile.model_validate({"name": "x", **fields})
    return LoadedProfile(profile=profile, path=Path("agents/x.yaml"), sha256="0")


def test_options_lists_and_placement() -> None:
    loaded = synthetic(
        argv=["tool", "{options}", "--end"],
        params={"model": "", "flags": ["-a", "-b"], "fast": True},
        options=[
            {"when": "model", "args": ["--model", "{param_model}"]},
            {"when": "!model", "args": ["--default-model"]},
            {"when": "fast", "args": ["{param_flags}"]},
        ],
    )
    params = {"model": "", "flags": ["-a", "{taskspec_id}"], "fast": True}
    argv = render_argv(loaded.profile, base_values(), params, loaded.path)
    assert argv == ["tool", "--default-model", "-a", "T1", "--end"]
    params["model"] = "opus"
    argv = render_argv(loaded.profile, base_values(), params, loaded.path)
    assert argv[:3] == ["tool", "--model", "opus"]


def test_required_parameter_and_unknown_placeholder_are_config_errors() -> None:
    generic = load_profile([AGENTS], "generic")
    with pytest.raises(ConfigError, match="'command' is required"):
        render_argv(generic.profile, base_values(), {"command": None}, generic.path)
    bad = synthetic(argv=["{nope}"])
    with pytest.raises(ConfigError, match="bad placeholder"):
        render_argv(bad.profile, base_values(), {}, bad.path)


def test_passthrough_never_passes_hatchdoit_or_config_dirs() -> None:
    environ = {
        "ANTHROPIC_API_KEY": "k",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
        "CLAUDE_CODE_OAUTH_TOKEN": "t",
        "CLAUDE_CONFIG_DIR": "/home/me/.claude",
        "HATCHDOIT_STOP_FILE": "/x",
        "HOME": "/home/me",
    }
    passed = passthrough_env(["ANTHROPIC_*", "CLAUDE_*", "HATCHDOIT_*", "HOME"], environ)
    assert passed == {
        "ANTHROPIC_API_KEY": "k",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
        "CLAUDE_CODE_OAUTH_TOKEN": "t",
        "HOME": "/home/me",
    }


def claude_setup(tmp_path: Path, profile: str, **overrides: Any) -> tuple[Any, SessionPaths]:
    paths = paths_in(tmp_path)
    environ = {
        "HATCHDOIT_CLAUDE_BIN": str(executable(tmp_path)),
        "ANTHROPIC_API_KEY": "sk-ant-0123456789abcdefghijKLMNOPQRSTUVWXYZ",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "PATH": "/usr/bin:/bin",
    }
    summary = paths.logs_dir / "summaries" / "T1-factory-001.json"
    prompt = paths.logs_dir / "factory" / "T1" / "prompt-001.md"
    setup = prepare_session(
        load_profile([AGENTS], profile),
        values={**base_values(), "worktree": str(paths.worktree), "prompt_file": str(prompt)},
        overrides=overrides,
        paths=paths,
        extra_env={"HATCHDOIT_SUMMARY_FILE": str(summary)},
        environ=environ,
    )
    return setup, paths


def test_claude_session_gets_settings_hooks_and_a_seeded_config_home(tmp_path: Path) -> None:
    setup, paths = claude_setup(tmp_path, "claude-code")
    out_dir = paths.logs_dir / "summaries"
    assert out_dir.is_dir(), "the --add-dir directory must exist before the CLI starts"
    settings_file = Path(setup.values["settings_file"])
    prompt_dir = paths.logs_dir / "factory" / "T1"
    assert setup.argv[:6] == [
        setup.values["bin"],
        "--add-dir",
        str(out_dir),
        str(prompt_dir),
        "--settings",
        str(settings_file),
    ]
    assert setup.argv[6:9] == ["--permission-mode", "dontAsk", "--allowedTools"]
    assert "Bash(git commit:*)" in setup.argv and "--dangerously-skip-permissions" not in setup.argv
    hooks = json.loads(settings_file.read_text())["hooks"]
    commands = {event: spec[0]["hooks"][0]["command"] for event, spec in hooks.items()}
    assert commands["Stop"] == f"{STOP_HOOK} Stop"
    assert commands["StopFailure"] == f"{STOP_HOOK} StopFailure"
    assert commands["SessionEnd"] == f"{STOP_HOOK} SessionEnd"
    assert commands["SessionStart"] == f"{MARKER_HOOK} ready"
    assert commands["UserPromptSubmit"] == f"{MARKER_HOOK} submitted"

    home = Path(setup.env["CLAUDE_CONFIG_DIR"])
    assert home.is_relative_to(paths.run_dir)
    state = json.loads((home / ".claude.json").read_text())
    assert state["hasCompletedOnboarding"] is True
    assert state["projects"][str(paths.worktree)]["hasTrustDialogAccepted"] is True
    assert state["projects"][str(out_dir)]["hasTrustDialogAccepted"] is True
    assert state["projects"][str(prompt_dir)]["hasTrustDialogAccepted"] is True
    # Claude Code remembers an approved API key by its last 20 characters
    assert state["customApiKeyResponses"]["approved"] == ["ghijKLMNOPQRSTUVWXYZ"]
    assert "bypassPermissionsModeAccepted" not in state
    assert (home / ".claude.json").stat().st_mode & 0o077 == 0
    assert setup.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert setup.env["HATCHDOIT_STOP_GUARD"] == "2"


def test_claude_skip_permissions_and_a_relaunch_keep_the_home(tmp_path: Path) -> None:
    setup, paths = claude_setup(
        tmp_path, "claude-code-headless", skip_permissions=True, model="opus"
    )
    assert "--dangerously-skip-permissions" in setup.argv and "--permission-mode" not in setup.argv
    assert setup.argv[setup.argv.index("--model") + 1] == "opus"
    assert setup.argv[:3] == [sys.executable, "-m", "hatchdoit.headless"]
    home = Path(setup.env["CLAUDE_CONFIG_DIR"])
    state = json.loads((home / ".claude.json").read_text())
    assert state["bypassPermissionsModeAccepted"] is True
    state["numStartups"] = 7
    (home / ".claude.json").write_text(json.dumps(state))
    again = prepare_session(
        load_profile([AGENTS], "claude-code-headless"),
        values={**base_values(), "worktree": str(paths.worktree)},
        overrides={"skip_permissions": True},
        paths=paths,
        extra_env={},
        environ={"HATCHDOIT_CLAUDE_BIN": setup.values["bin"], "PATH": "/usr/bin"},
    )
    assert (
        json.loads((Path(again.env["CLAUDE_CONFIG_DIR"]) / ".claude.json").read_text())[
            "numStartups"
        ]
        == 7
    )


def test_claude_user_config_home_is_not_seeded(tmp_path: Path) -> None:
    setup, paths = claude_setup(tmp_path, "claude-code", config_home="user")
    assert "CLAUDE_CONFIG_DIR" not in setup.env
    assert not (paths.run_dir / "claude-home").exists()
    assert Path(setup.values["settings_file"]).is_file()


def test_missing_cli_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        prepare_session(
            load_profile([AGENTS], "claude-code"),
            values=base_values(),
            overrides={},
            paths=paths_in(tmp_path),
            extra_env={},
            environ={"PATH": str(tmp_path)},
        )
    assert "npm install -g @anthropic-ai/claude-code" in (caught.value.fix or "")
    assert "HATCHDOIT_CLAUDE_BIN" in (caught.value.fix or "")


def test_codex_notify_and_writable_roots_are_toml_overrides(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    verdict = paths.logs_dir / "qa" / "T1" / "T1-qa-001.json"
    setup = prepare_session(
        load_profile([AGENTS], "codex"),
        values={**base_values("qa"), "worktree": str(paths.worktree)},
        overrides={},
        paths=paths,
        extra_env={"HATCHDOIT_VERDICT_FILE": str(verdict)},
        environ={"HATCHDOIT_CODEX_BIN": str(executable(tmp_path, "codex")), "OPENAI_API_KEY": "k"},
    )
    overrides: dict[str, Any] = {}
    for flag, value in zip(setup.argv, setup.argv[1:], strict=False):
        if flag == "-c":
            overrides.update(tomllib.loads(value))
    assert overrides["notify"] == [str(STOP_HOOK), "agent-turn-complete"]
    assert overrides["sandbox_workspace_write"]["writable_roots"] == [str(verdict.parent)]
    assert overrides["approval_policy"] == "never"
    assert setup.argv[-1] == "-"
    assert setup.env == {
        "OPENAI_API_KEY": "k",
        "CODEX_HOME": str(paths.run_dir / "codex-home"),
        "TMPDIR": str(paths.run_dir / "tmp"),  # Codex's own sandbox links its helper there
    }


# --------------------------------------------------------------------------------------------
# the generic profile, end to end with agents/examples/generic_agent.py wrapping the fake CLI of
# tests/fake_generic_cli.py


@pytest.mark.integration
def test_generic_profile_with_the_example_agent(project: HatchProject) -> None:
    project.configure(
        agents={"factory": "generic", "qa": "generic"},
        agent_params={"generic": {"command": generic_command()}},
    )
    tid = "T001-GENERIC"
    project.add_taskspec(tid, body=module_body("greet", "greet", "hello"))
    done = run_doit(project, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert load_valid(project.layout.done(tid), DoneRecord).attempt == 1
    stop = load_valid(project.layout.stop_file(tid, "factory", 1), StopRecord)
    assert stop.source == "hook" and stop.event == "stop"
    assert stop.payload["session_id"] == f"generic-{tid}-factory-1"
    assert (project.layout.worktree(tid) / "src" / "app" / "greet.py").is_file()


# --------------------------------------------------------------------------------------------
# doctor


def test_doctor_reports_profiles_and_fails_for_a_used_missing_cli(
    project: HatchProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {
        **project.env,
        "HATCHDOIT_CLAUDE_BIN": str(executable(tmp_path)),
        "ANTHROPIC_API_KEY": "k",
    }
    checks = doctor.run_doctor(project.root, environ)
    by_name: dict[str, list[Check]] = {}
    for check in checks:
        by_name.setdefault(check.name, []).append(check)
    assert {c.status for c in by_name["tmux"] + by_name["git"] + by_name["config"]} == {"ok"}
    assert by_name["planning repo"][0].status == "ok"
    claude = by_name["agent claude-code"]
    assert claude[0].status == "ok" and "2.1.330" in claude[0].detail
    assert any("credentials: ANTHROPIC_API_KEY" in c.detail for c in claude)
    assert by_name["agent codex"][0].status == "skip"  # not installed, not used
    assert not [c for c in checks if c.status == "fail"], checks

    project.configure(agents={"factory": "codex", "qa": "scripted"})
    code = subprocess.run(
        [sys.executable, "-m", "hatchdoit", "--root", str(project.root), "doctor", "--json"],
        env={**project.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert code.returncode == 1, code.stdout
    report = json.loads(code.stdout)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == [
        "agent codex"
    ] and "npm install -g @openai/codex" in failed[0]["fix"]
    assert cli_main(["--root", str(project.root), "doctor", "--profile", "scripted"]) == 0
    assert "doctor:" in capsys.readouterr().out
