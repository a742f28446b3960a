"""`hatchdoit doctor` and `hatchdoit confinement` say which confinement is in force, why, and
the fix; the policy's rules as data (what a process may write, read and reach)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from confinement_support import failing_srt, need_srt
from projects import HatchProject

from hatchdoit.config.workspace_models import ConfinementConfig
from hatchdoit.confinement.hosts import agent_hosts, url_host
from hatchdoit.confinement.policy import agent_policy, command_policy
from hatchdoit.confinement.srt import SRT_ENV

pytestmark = pytest.mark.integration


def _doctor(project: HatchProject, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "hatchdoit", "--root", str(project.root), *args]
    return subprocess.run(
        argv, env=project.env, capture_output=True, text=True, timeout=120, check=False
    )


def _line(output: str) -> str:
    found = [line for line in output.splitlines() if "confinement" in line.split(":")[0]]
    assert len(found) == 1, output
    return found[0]


def test_doctor_says_confined_where_srt_works(project: HatchProject) -> None:
    project.env[SRT_ENV] = str(need_srt())
    project.configure(confinement={"mode": "auto"})
    line = _line(_doctor(project, "doctor", "--profile", "scripted").stdout)
    assert line.startswith("ok") and "auto: confined by srt" in line, line


def test_doctor_fails_required_that_cannot_confine_with_its_fix(project: HatchProject) -> None:
    project.env[SRT_ENV] = str(failing_srt(project.root.parent))
    project.configure(confinement="required")  # the shorthand
    done = _doctor(project, "doctor", "--profile", "scripted")
    line = _line(done.stdout)
    assert line.startswith("FAIL") and "uid map" in line, line
    after = done.stdout.splitlines()[done.stdout.splitlines().index(line) + 1]
    assert after.strip().startswith("fix:") and "confinement install" in after, after
    assert done.returncode == 1


def test_confinement_command_warns_under_auto(project: HatchProject) -> None:
    project.env[SRT_ENV] = str(project.root / "no-such-srt")
    project.configure(confinement="auto")
    done = _doctor(project, "confinement")
    assert done.returncode == 0, done.stderr
    assert "UNCONFINED" in done.stdout and "hatchdoit confinement install" in done.stdout


def test_policies_write_only_their_places_and_reach_only_their_hosts(tmp_path: Path) -> None:
    config = ConfinementConfig(deny_read=["~/secrets"], allow_read=["~/.aws/config"])
    home, ws = tmp_path / "home", tmp_path / "ws"
    ws.mkdir()
    env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:8123"}
    agent = agent_policy(
        config, workspace=ws, output_dir=tmp_path / "out", temp_dir=tmp_path / "tmp",
        config_home=tmp_path / "home-run", provider="anthropic", env=env, home=home,
    )  # fmt: skip
    assert agent.writable() == [ws, tmp_path / "tmp", tmp_path / "out", tmp_path / "home-run"]
    assert f"{home}/.ssh" in agent.deny_read and f"{home}/secrets" in agent.deny_read
    assert agent.allow_read == (f"{home}/.aws/config",)
    assert "api.anthropic.com" in agent.hosts and "127.0.0.1:8123" in agent.hosts
    assert not agent.keep_no_proxy  # the local stand-in is reached through the proxy
    tests = command_policy(config, workspace=ws, temp_dir=tmp_path / "t", home=home)
    assert tests.hosts == () and not tests.any_host and tests.writable() == [ws, tmp_path / "t"]
    setup = command_policy(config, workspace=ws, temp_dir=tmp_path / "t", network="registries")
    assert "pypi.org" in setup.hosts


def test_base_url_hosts() -> None:
    assert url_host("http://localhost:9000/v1") == "localhost:9000"
    assert url_host("https://gw.example.com/anthropic") == "gw.example.com"
    assert url_host("http://[::1]:80") == "[::1]:80"
    assert "127.0.0.1:9" in agent_hosts(None, {"OPENAI_BASE_URL": "http://localhost:9"})


def test_confined_profiles_skip_their_own_prompts_and_sandbox() -> None:
    from hatchdoit.steps.agent_confinement import confined_params

    assert confined_params("claude", {}, True) == {"skip_permissions": True}
    assert confined_params("codex", {}, True) == {"bypass_sandbox": True}
    assert confined_params("claude", {"skip_permissions": False}, True) == {}  # yaml decides
    assert confined_params("codex", {}, False) == {}  # unconfined: Codex keeps its sandbox
    assert confined_params("none", {}, True) == {}


@pytest.mark.parametrize("network", ["none", "any"])
def test_a_test_commands_network_is_none_or_any(tmp_path: Path, network: str) -> None:
    import socket

    from hatchdoit.confinement.mode import Decision
    from hatchdoit.confinement.wrap import confined_command

    need_srt()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)"
    ws = tmp_path / "ws"
    ws.mkdir()
    config = ConfinementConfig(test_network=network)  # type: ignore[arg-type]
    with confined_command(
        [sys.executable, "-c", code], ws, config, decision=Decision("auto", True, "test")
    ) as run:
        done = subprocess.run(run.argv, cwd=ws, capture_output=True, text=True, check=False)
    server.close()
    assert (done.returncode == 0) == (network == "any"), done.stderr


def test_apparmor_restriction_is_named_with_its_sysctl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hatchdoit.confinement import availability

    need_srt()
    restricted = tmp_path / "apparmor_restrict_unprivileged_userns"
    restricted.write_text("1\n", encoding="utf-8")
    monkeypatch.setattr(availability, "APPARMOR_SYSCTL", str(restricted))
    monkeypatch.setenv(SRT_ENV, str(failing_srt(tmp_path)))
    found = availability.check()
    assert not found.available and "AppArmor" in found.reason, found
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in found.fix, found


def test_a_test_command_reads_the_target_repos_git_config_as_empty(tmp_path: Path) -> None:
    from hatchdoit.confinement.mode import Decision
    from hatchdoit.confinement.wrap import confined_command

    need_srt()
    repo, ws = tmp_path / "repo", tmp_path / "ws"

    def git(*args: str) -> None:
        subprocess.run(["git", *args], check=True, capture_output=True)

    git("init", "-q", str(repo))
    git("-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
        "--allow-empty", "-m", "x")  # fmt: skip
    git("-C", str(repo), "config", "http.extraheader", "TOKEN-42")  # where CI keeps its token
    git("-C", str(repo), "worktree", "add", "-q", str(ws))
    command = ["sh", "-c", "git config --get http.extraheader; git log --format=%s -1"]
    decision = Decision("auto", True, "test")
    with confined_command(command, ws, ConfinementConfig(), decision=decision) as confined:
        done = subprocess.run(confined.argv, cwd=ws, capture_output=True, text=True, check=False)
    assert "TOKEN-42" not in done.stdout + done.stderr
    assert done.stdout.strip() == "x", done.stderr  # git still works there
