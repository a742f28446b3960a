"""The subscription logins with the real pinned CLIs against the local stand-ins (offline), each
session set up by hatchdoit as a launch does (its run's own config home, agents/logins.py).

- Claude Code: a fake `~/.claude/.credentials.json` (claudeAiOauth: accessToken, refreshToken,
  expiresAt) in a fake HOME; the stand-in sees its bearer token. Claude Code 2.1.330 refreshes
  at a fixed address (https://platform.claude.com/v1/oauth/token: CLAUDE_CODE_CUSTOM_OAUTH_URL
  accepts only Anthropic's own hosts), so tests/oauth_proxy.py answers there, as an HTTPS proxy
  with a test CA (HTTPS_PROXY, NODE_EXTRA_CA_CERTS). Sessions at once with an expired login
  refresh it once and all work, the new pair in the user's file; sessions whose login is rotated
  under them by someone else (the user's own `claude`) read the new token and go on.
- Codex: a fake `~/.codex/auth.json` (ChatGPT tokens); CODEX_REFRESH_TOKEN_URL_OVERRIDE points
  its refresh at the stand-in, which rotates refresh tokens and refuses a spent one. Sessions at
  once refresh once (one lock), all keep working, and every refreshed token is in the user's file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from claude_code_cli import pinned_claude_code, use_claude
from codex_cli import codex_home, pinned_codex
from conftest import run_doit
from login_standins import (
    LoginAnthropic,
    LoginOpenAI,
    Tokens,
    claude_login,
    codex_login,
    login_session,
)
from oauth_proxy import OAuthProxy, make_certificates
from projects import HatchProject, module_body
from provider_builds import quick

from hatchdoit.records.models import DoneRecord
from hatchdoit.records.schemas import load_valid

pytestmark = pytest.mark.integration
TID = "T001-LOGIN"

OFFLINE = {
    "DISABLE_TELEMETRY": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_MAX_RETRIES": "0",
    "IS_SANDBOX": "1",  # --dangerously-skip-permissions is not used; harmless otherwise
}


@pytest.fixture(scope="module")
def claude_bin() -> Path:
    return pinned_claude_code()


@pytest.fixture(scope="module")
def codex_bin() -> Path:
    return pinned_codex()


def session_env(home: Path, setup_env: dict[str, str]) -> dict[str, str]:
    """What a launch gives the session: a plain base (the user's HOME) and hatchdoit's env."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    return {**base, **setup_env}


def start(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(runs: list[subprocess.Popen[str]]) -> list[str]:
    outputs = []
    for run in runs:
        out, err = run.communicate(timeout=150)
        assert run.returncode == 0, out + err
        outputs.append(out)
    return outputs


def test_claude_sessions_use_the_subscription_login_and_follow_its_rotation(
    tmp_path: Path, claude_bin: Path
) -> None:
    home = tmp_path / "home"
    credentials = claude_login(home, "at-old", "rt-old")
    tokens = Tokens()
    tokens.issue("at-old", "rt-old")

    def rotate(number: int) -> None:
        """The third model request: the login was refreshed elsewhere meanwhile."""
        if number == 3:
            tokens.issue("at-new", "rt-new")
            with tokens.lock:
                tokens.access.discard("at-old")
            claude_login(home, "at-new", "rt-new")

    with LoginAnthropic(tokens, before=rotate) as fake:
        runs, homes = [], []
        for n in (1, 2):
            environ = {"HOME": str(home), "HATCHDOIT_CLAUDE_BIN": str(claude_bin), **OFFLINE}
            environ["ANTHROPIC_BASE_URL"] = fake.url
            setup, paths = login_session(tmp_path, "claude-code-headless", environ, f"qa-00{n}")
            homes.append(Path(setup.env["CLAUDE_CONFIG_DIR"]))
            # a prompt the stand-in answers with several Read calls: several requests a session
            prompt = paths.worktree / "prompt.md"
            prompt.write_text("\n".join(f"line {i}" for i in range(900)))
            ask = f"<!-- hatchdoit:prompt-file={prompt} -->\nRead it."
            runs.append(
                start([str(claude_bin), "-p", ask], session_env(home, setup.env), paths.worktree)
            )
        outputs = finish(runs)
        bearers = list(fake.bearers)
    assert all("Done" in out for out in outputs), outputs
    assert bearers[:2] == ["Bearer at-old", "Bearer at-old"]  # the subscription's own token
    after = bearers[bearers.index("Bearer at-new") :]
    assert len(after) >= 4 and set(after) == {"Bearer at-new"}, bearers  # both sessions went on
    assert json.loads(credentials.read_text())["claudeAiOauth"]["accessToken"] == "at-new"
    for run_home in homes:  # the run's config home never held the login
        assert not list(run_home.rglob(".credentials*")), sorted(run_home.rglob("*"))


def user_codex(home: Path, fake: LoginOpenAI, *, stale: bool) -> Path:
    """The user's ~/.codex: a ChatGPT login and a config.toml whose provider is the stand-in
    with the ChatGPT login's tokens (`requires_openai_auth`)."""
    directory = codex_home(home / ".codex", fake, requires_openai_auth=True)
    config = directory / "config.toml"
    config.write_text(config.read_text().replace('env_key = "OPENAI_API_KEY"\n', ""))
    return codex_login(directory, "at-initial", "rt-initial", stale=stale)


def codex_sessions(
    tmp_path: Path, home: Path, fake: LoginOpenAI, codex_bin: Path, runs: list[str]
) -> list[subprocess.Popen[str]]:
    started = []
    for run in runs:
        environ = {
            "HOME": str(home),
            "HATCHDOIT_CODEX_BIN": str(codex_bin),
            "CODEX_REFRESH_TOKEN_URL_OVERRIDE": f"{fake.url}/oauth/token",
        }
        setup, paths = login_session(tmp_path, "codex", environ, run)
        assert (Path(setup.env["CODEX_HOME"]) / "auth.json").is_symlink()
        argv = [str(codex_bin), "exec", "--json", "--skip-git-repo-check", "say hi"]
        started.append(start(argv, session_env(home, setup.env), paths.worktree))
    return started


def stored(auth: Path) -> tuple[str, str]:
    tokens = json.loads(auth.read_text())["tokens"]
    return tokens["access_token"], tokens["refresh_token"]


def test_codex_sessions_at_once_refresh_once_and_the_user_keeps_the_new_token(
    tmp_path: Path, codex_bin: Path
) -> None:
    home = tmp_path / "home"
    tokens = Tokens()
    tokens.issue("at-initial", "rt-initial")
    with LoginOpenAI(tokens) as fake:
        auth = user_codex(home, fake, stale=True)  # due for a refresh when a session starts
        finish(codex_sessions(tmp_path, home, fake, codex_bin, ["factory-001", "qa-001", "qa-002"]))
        assert tokens.refreshes == 1, "one lock: the other sessions read the refreshed file"
        assert fake.bearers == ["Bearer at-rotated-1"] * 3
        assert stored(auth) == ("at-rotated-1", "rt-rotated-1")
        assert not auth.is_symlink()

        # the access token is revoked: the next session's 401 makes it refresh with the
        # rotated refresh token, found in the user's file; the newer one lands there too
        with tokens.lock:
            tokens.access.clear()
        finish(codex_sessions(tmp_path, home, fake, codex_bin, ["factory-002"]))
        assert tokens.refreshes == 2 and "rt-rotated-1" in tokens.spent
        assert fake.bearers[-1] == "Bearer at-rotated-2"
        assert stored(auth) == ("at-rotated-2", "rt-rotated-2")


@pytest.mark.parametrize("profile", ["claude-code-headless", "claude-code"])
def test_a_build_on_the_subscription_login_and_its_auth_stop_names_the_login(
    project: HatchProject, claude_bin: Path, profile: str
) -> None:
    """No API key, only `claude`'s login: a refused login stops the build with the fix for a
    login (/login), not for a key; once the login is good again the next `doit` builds."""
    home = Path(project.env["HOME"])
    claude_login(home, "at-user", "rt-user")
    tokens = Tokens()
    with LoginAnthropic(tokens, max_requests=300, lifetime=240) as fake:
        use_claude(project, fake, claude_bin, profile)
        del project.env["ANTHROPIC_API_KEY"]
        quick(project, max_wait=3)
        project.add_taskspec(TID, module_body("greet", "greet", "hello"), max_attempts=1)
        stopped = run_doit(project, timeout=180)
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        lines = [x for x in stopped.stderr.splitlines() if "refused the credentials" in x]
        assert len(lines) == 1, stopped.stderr
        assert "your Claude subscription login" in lines[0], lines[0]
        assert "run `claude` and log in with /login" in lines[0], lines[0]
        assert not project.layout.escalated(TID).exists()

        tokens.issue("at-user", "rt-user")  # logged in again
        built = run_doit(project, timeout=180)
        assert built.returncode == 0, built.stdout + built.stderr
        assert load_valid(project.layout.done(TID), DoneRecord).attempt == 1
        assert set(fake.bearers[-3:]) == {"Bearer at-user"}


def test_claude_sessions_at_once_refresh_an_expired_login_once_and_the_user_keeps_it(
    tmp_path: Path, claude_bin: Path
) -> None:
    """The real refresh: the login has expired, three sessions start at once; the token
    endpoint (at its real address, through tests/oauth_proxy.py) rotates the refresh token and
    refuses a spent one. One refresh, three working sessions, the new pair in the user's file."""
    home = tmp_path / "home"
    credentials = claude_login(home, "at-old", "rt-old", expired=True)
    tokens = Tokens()
    tokens.refresh.add("rt-old")  # the expired access token is no longer accepted
    ca, cert, key = make_certificates(tmp_path / "tls")
    with LoginAnthropic(tokens) as fake, OAuthProxy(tokens, cert, key) as proxy:
        runs, homes = [], []
        for n in (1, 2, 3):
            environ = {
                "HOME": str(home),
                "HATCHDOIT_CLAUDE_BIN": str(claude_bin),
                "ANTHROPIC_BASE_URL": fake.url,
                "HTTPS_PROXY": proxy.url,
                "NO_PROXY": "127.0.0.1,localhost",
                "NODE_EXTRA_CA_CERTS": str(ca),
                **OFFLINE,
            }
            setup, paths = login_session(tmp_path, "claude-code-headless", environ, f"qa-00{n}")
            homes.append(Path(setup.env["CLAUDE_CONFIG_DIR"]))
            env = session_env(home, setup.env)
            runs.append(start([str(claude_bin), "-p", "say hi"], env, paths.worktree))
        outputs = finish(runs)
    assert all("Done" in out for out in outputs), outputs
    assert proxy.asked == ["/v1/oauth/token"], (proxy.asked, tokens.refreshes)
    assert fake.bearers == ["Bearer at-rotated-1"] * 3
    login = json.loads(credentials.read_text())["claudeAiOauth"]
    assert (login["accessToken"], login["refreshToken"]) == ("at-rotated-1", "rt-rotated-1")
    assert not credentials.is_symlink()
    for run_home in homes:
        assert not list(run_home.rglob(".credentials*")), sorted(run_home.rglob("*"))


def test_no_login_at_all_stops_the_build_with_the_login_fix(
    project: HatchProject, claude_bin: Path
) -> None:
    """Neither a key nor a login: Claude Code says "Not logged in · Please run /login"; that is
    an auth stop whose fix is to log in, not an attempt that counts."""
    with LoginAnthropic(Tokens(), max_requests=50, lifetime=120) as fake:
        use_claude(project, fake, claude_bin, "claude-code-headless")
        del project.env["ANTHROPIC_API_KEY"]
        quick(project, max_wait=3)
        project.add_taskspec(TID, module_body("greet", "greet", "hello"), max_attempts=1)
        stopped = run_doit(project, timeout=180)
        assert fake.bearers == []
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    lines = [x for x in stopped.stderr.splitlines() if "refused the credentials" in x]
    assert len(lines) == 1, stopped.stderr
    assert "fix: run `claude` and log in with /login, or export ANTHROPIC_API_KEY" in lines[0]
    assert not project.layout.escalated(TID).exists()
