"""The logins users have reach the agents (README "Logins: what reaches the agents"), without
running a CLI: which credential a profile's sessions use, what the run's config home sees,
the shared credentials file and its lock, the write-back, doctor's line and an auth stop's fix.
tests/test_logins_cli.py runs the real pinned CLIs against the stand-ins."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from login_standins import claude_login, codex_login, login_session

from hatchdoit.agents import logins
from hatchdoit.cli.doctor_logins import login_check


def fake_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return home


# --------------------------------------------------------------------------------------------
# which credential


@pytest.mark.parametrize(
    ("variables", "kind", "name"),
    [
        ({}, "subscription", "your Claude subscription login"),
        ({"CLAUDE_CODE_OAUTH_TOKEN": "t"}, "env", "CLAUDE_CODE_OAUTH_TOKEN"),
        ({"CLAUDE_CODE_OAUTH_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}, "env", "ANTHROPIC_API_KEY"),
        ({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_AUTH_TOKEN": "t"}, "env", "ANTHROPIC_AUTH_TOKEN"),
        (
            {"ANTHROPIC_API_KEY": "k", "CLAUDE_CODE_USE_BEDROCK": "1"},
            "env",
            "CLAUDE_CODE_USE_BEDROCK",
        ),
    ],
    ids=["login", "setup-token", "key-over-token", "auth-token-over-key", "bedrock-first"],
)
def test_claude_takes_credentials_in_the_cli_order(
    tmp_path: Path, variables: dict[str, str], kind: str, name: str
) -> None:
    home = fake_home(tmp_path)
    claude_login(home, "at", "rt")
    login = logins.claude_login({"HOME": str(home), **variables}, platform="linux")
    assert (login.kind, login.name) == (kind, name)


def test_claude_without_any_login_says_so_and_its_fix_is_the_login(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    login = logins.claude_login({"HOME": str(home)}, platform="linux")
    assert login.kind == "none"
    (home / ".claude").mkdir()
    (home / ".claude" / ".credentials.json").write_text("{}")  # no claudeAiOauth: not a login
    assert logins.claude_login({"HOME": str(home)}, platform="linux").kind == "none"
    assert login.fix.startswith("run `claude` and log in with /login")


def test_macos_keychain_entry_is_the_users(tmp_path: Path) -> None:
    """On macOS the CLI names its Keychain entry after CLAUDE_SECURESTORAGE_CONFIG_DIR when it is
    set (a hash suffix) and uses the plain entry when it is empty."""
    home = str(fake_home(tmp_path))
    login = logins.claude_login({"HOME": home}, platform="darwin")
    assert login.kind == "keychain"
    assert logins.claude_store_dir({"HOME": home}, platform="darwin") == ""
    own = {"HOME": home, "CLAUDE_CONFIG_DIR": "/Users/me/.claude-work"}
    assert logins.claude_store_dir(own, platform="darwin") == "/Users/me/.claude-work"
    assert logins.claude_store_dir({"HOME": home}, platform="linux") == f"{home}/.claude"


def test_codex_takes_a_key_variable_then_the_login_file(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    assert logins.codex_login({"HOME": str(home)}).kind == "none"
    codex_login(home / ".codex", "at", "rt")
    assert logins.codex_login({"HOME": str(home)}).kind == "login-file"
    both = {"HOME": str(home), "OPENAI_API_KEY": "k", "CODEX_API_KEY": "c"}
    assert logins.codex_login(both).name == "CODEX_API_KEY"
    own = tmp_path / "elsewhere"
    codex_login(own, "at", "rt")
    assert logins.codex_login({"HOME": str(tmp_path), "CODEX_HOME": str(own)}).where == str(
        own / "auth.json"
    )


# --------------------------------------------------------------------------------------------
# what the run's config home sees


@pytest.mark.parametrize("profile", ["claude-code", "claude-code-headless"])
def test_a_claude_session_uses_the_users_login_in_place(tmp_path: Path, profile: str) -> None:
    home = fake_home(tmp_path)
    credentials = claude_login(home, "at", "rt")
    (home / ".claude" / "settings.json").write_text('{"hooks": {}}')
    (home / ".claude.json").write_text('{"oauthAccount": {}}')
    setup, paths = login_session(tmp_path, profile, {"HOME": str(home)})
    run_home = Path(setup.env["CLAUDE_CONFIG_DIR"])
    assert run_home.is_relative_to(paths.run_dir)
    # the CLI's credential store is the user's own directory: one file, no copy, no link
    assert setup.env["CLAUDE_SECURESTORAGE_CONFIG_DIR"] == str(credentials.parent)
    assert sorted(p.name for p in run_home.iterdir()) == [".claude.json"]
    assert "oauthAccount" not in json.loads((run_home / ".claude.json").read_text())


def test_a_claude_session_with_a_key_does_not_see_the_login(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    claude_login(home, "at", "rt")
    setup, _ = login_session(tmp_path, "claude-code", {"HOME": str(home), "ANTHROPIC_API_KEY": "k"})
    assert "CLAUDE_SECURESTORAGE_CONFIG_DIR" not in setup.env
    assert setup.env["ANTHROPIC_API_KEY"] == "k"


def test_a_codex_session_links_the_login_and_copies_only_config(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    auth = codex_login(home / ".codex", "at", "rt")
    (home / ".codex" / "config.toml").write_text('model = "gpt-5"\n')
    (home / ".codex" / "history.jsonl").write_text("secret history\n")
    (home / ".codex" / "sessions").mkdir()
    setup, paths = login_session(tmp_path, "codex", {"HOME": str(home)})
    run_home = Path(setup.env["CODEX_HOME"])
    assert run_home == paths.run_dir / "codex-home"
    assert sorted(p.name for p in run_home.iterdir()) == ["auth.json", "auth.lock", "config.toml"]
    assert os.readlink(run_home / "auth.json") == str(auth)
    assert os.readlink(run_home / "auth.lock") == str(home / ".codex" / "auth.lock")
    assert not (run_home / "config.toml").is_symlink()
    assert (run_home / "config.toml").read_text() == 'model = "gpt-5"\n'


def test_a_codex_session_with_a_key_gets_no_login(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    codex_login(home / ".codex", "at", "rt")
    setup, _ = login_session(tmp_path, "codex", {"HOME": str(home), "OPENAI_API_KEY": "k"})
    assert not (Path(setup.env["CODEX_HOME"]) / "auth.json").exists()


# --------------------------------------------------------------------------------------------
# one file under one lock, written back


def sessions(tmp_path: Path, count: int) -> tuple[Path, list[Path]]:
    home = fake_home(tmp_path)
    codex_login(home / ".codex", "at-0", "rt-0")
    runs = []
    for n in range(count):
        setup, _ = login_session(tmp_path, "codex", {"HOME": str(home)}, run=f"factory-00{n + 1}")
        runs.append(Path(setup.env["CODEX_HOME"]))
    return home / ".codex", runs


def test_a_token_written_through_one_session_is_what_every_session_and_the_user_read(
    tmp_path: Path,
) -> None:
    user, (first, second) = sessions(tmp_path, 2)
    with open(first / "auth.json", "w", encoding="utf-8") as out:  # as Codex writes: in place
        json.dump({"tokens": {"access_token": "at-1", "refresh_token": "rt-1"}}, out)
    for path in (user / "auth.json", second / "auth.json"):
        assert json.loads(path.read_text())["tokens"]["refresh_token"] == "rt-1"


def test_the_sessions_refresh_lock_is_one_lock(tmp_path: Path) -> None:
    """Codex locks `$CODEX_HOME/auth.lock` around a refresh: through the links, one session's
    lock keeps every other session (and the user's own codex) out."""
    user, (first, second) = sessions(tmp_path, 2)
    held = os.open(first / "auth.lock", os.O_RDWR)
    other = os.open(second / "auth.lock", os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError), open(user / "auth.lock") as mine:
            fcntl.flock(mine, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(held, fcntl.LOCK_UN)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(held)
        os.close(other)


def refreshed(path: Path, token: str, when: str) -> None:
    tokens = {"access_token": f"at-{token}", "refresh_token": f"rt-{token}"}
    path.write_text(json.dumps({"tokens": tokens, "last_refresh": when}))


def test_a_login_a_cli_wrote_over_the_link_is_written_back_and_linked_again(
    tmp_path: Path,
) -> None:
    user, (first,) = sessions(tmp_path, 1)
    link = first / "auth.json"
    staged = first / ".auth-new"
    refreshed(staged, "new", "2030-01-01T00:00:00Z")
    os.replace(staged, link)  # a CLI that saves by rename replaces the link with a file
    assert not link.is_symlink()
    assert logins.write_back(first, user) is True
    assert json.loads((user / "auth.json").read_text())["tokens"]["refresh_token"] == "rt-new"
    assert link.is_symlink() and os.readlink(link) == str(user / "auth.json")
    assert logins.write_back(first, user) is False  # nothing left to do


def test_write_back_never_replaces_a_newer_login(tmp_path: Path) -> None:
    user, (first,) = sessions(tmp_path, 1)
    refreshed(user / "auth.json", "users", "2031-01-01T00:00:00Z")
    (first / "auth.json").unlink()
    refreshed(first / "auth.json", "older", "2030-01-01T00:00:00Z")
    assert logins.write_back(first, user) is False
    assert json.loads((user / "auth.json").read_text())["tokens"]["refresh_token"] == "rt-users"
    assert (first / "auth.json").is_symlink()


def test_the_next_launch_of_a_run_writes_back_first(tmp_path: Path) -> None:
    user, (first,) = sessions(tmp_path, 1)
    (first / "auth.json").unlink()
    refreshed(first / "auth.json", "kept", "2030-01-01T00:00:00Z")
    setup, _ = login_session(tmp_path, "codex", {"HOME": str(user.parent)}, run="factory-001")
    assert Path(setup.env["CODEX_HOME"]) == first
    assert json.loads((user / "auth.json").read_text())["tokens"]["refresh_token"] == "rt-kept"


# --------------------------------------------------------------------------------------------
# doctor and the fix of an auth stop


def test_doctor_names_the_credential_each_profile_uses(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    environ = {"HOME": str(home)}
    assert login_check("agent claude-code", "claude", {}, environ, "fail").status == "warn"  # type: ignore[union-attr]
    credentials = claude_login(home, "at", "rt")
    codex_login(home / ".codex", "at", "rt")
    claude = login_check("agent claude-code", "claude", {}, environ, "fail")
    codex = login_check("agent codex", "codex", {}, environ, "fail")
    assert claude is not None and codex is not None
    assert claude.status == "ok" and str(credentials) in claude.detail
    assert "subscription login" in claude.detail
    assert codex.status == "ok" and str(home / ".codex" / "auth.json") in codex.detail
    keyed = login_check(
        "agent claude-code", "claude", {}, {**environ, "ANTHROPIC_API_KEY": "k"}, "fail"
    )
    assert keyed is not None and keyed.detail.startswith("credentials: ANTHROPIC_API_KEY")
    assert login_check("agent generic", "none", {}, environ, "fail") is None


def test_an_auth_stop_names_the_fix_for_the_credential_in_use(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    claude_login(home, "at", "rt")
    codex_login(home / ".codex", "at", "rt")
    environ = {"HOME": str(home)}
    subscription = logins.auth_fix("claude", environ)
    assert subscription is not None
    assert subscription.startswith("your Claude subscription login (")
    assert "was refused: run `claude` and log in with /login" in subscription
    keyed = logins.auth_fix("claude", {**environ, "ANTHROPIC_API_KEY": "k"})
    assert keyed == (
        "ANTHROPIC_API_KEY was refused: set ANTHROPIC_API_KEY to a valid key "
        "(console.anthropic.com, API keys)"
    )
    chatgpt = logins.auth_fix("codex", environ)
    assert chatgpt is not None and "run `codex login` again" in chatgpt
    assert logins.auth_fix("generic", environ) is None


def test_the_directories_a_refresh_writes_are_the_logins(tmp_path: Path) -> None:
    """What a confined session must be allowed to write for its login to refresh."""
    home = fake_home(tmp_path)
    environ = {"HOME": str(home)}
    assert logins.login_dirs("claude", environ) == []
    claude_login(home, "at", "rt")
    codex_login(home / ".codex", "at", "rt")
    assert logins.login_dirs("claude", environ) == [home / ".claude"]
    assert logins.login_dirs("codex", environ) == [home / ".codex"]
    assert logins.login_dirs("claude", {**environ, "ANTHROPIC_API_KEY": "k"}) == []


def test_a_user_with_a_config_dir_of_their_own_keeps_it_for_the_login(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    own = tmp_path / "work-claude"
    credentials = claude_login(home, "at", "rt")
    own.mkdir()
    credentials.rename(own / ".credentials.json")
    environ = {"HOME": str(home), "CLAUDE_CONFIG_DIR": str(own)}
    setup, paths = login_session(tmp_path, "claude-code", environ)
    assert setup.env["CLAUDE_SECURESTORAGE_CONFIG_DIR"] == str(own)
    assert Path(setup.env["CLAUDE_CONFIG_DIR"]).is_relative_to(paths.run_dir)


def test_a_codex_login_in_the_keyring_is_named_as_one_a_run_cannot_use(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text('cli_auth_credentials_store = "keyring"\n')
    login = logins.codex_login({"HOME": str(home)})
    assert login.kind == "none" and 'cli_auth_credentials_store = "file"' in login.fix


def test_the_next_codex_launch_of_any_taskspec_writes_back_an_earlier_runs_login(
    tmp_path: Path,
) -> None:
    user, (first,) = sessions(tmp_path, 1)
    (first / "auth.json").unlink()
    refreshed(first / "auth.json", "left", "2030-01-01T00:00:00Z")
    login_session(tmp_path, "codex", {"HOME": str(user.parent)}, run="qa-007")
    assert json.loads((user / "auth.json").read_text())["tokens"]["refresh_token"] == "rt-left"
    assert (first / "auth.json").is_symlink()


def test_the_hosts_a_login_needs(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    environ = {"HOME": str(home)}
    assert logins.login_hosts("claude", environ) == []
    claude_login(home, "at", "rt")
    codex_login(home / ".codex", "at", "rt")
    assert "platform.claude.com" in logins.login_hosts("claude", environ)
    assert "auth.openai.com" in logins.login_hosts("codex", environ)
    assert logins.login_hosts("codex", {**environ, "OPENAI_API_KEY": "k"}) == []
