"""The logins users already have, and how they reach an agent session (README "Logins: what
reaches the agents").

Each session runs in a config home of its run's own, which sees the user's login and nothing
else of the user's config:

- Claude Code, in the order the CLI itself takes them: a cloud provider
  (CLAUDE_CODE_USE_BEDROCK / _VERTEX), ANTHROPIC_AUTH_TOKEN, ANTHROPIC_API_KEY,
  CLAUDE_CODE_OAUTH_TOKEN (`claude setup-token`), then the subscription login `claude` /login
  keeps: `<config dir>/.credentials.json` on Linux, the Keychain on macOS. The variables pass
  through the profile's env_passthrough. The subscription login is not copied: the session's
  CLAUDE_SECURESTORAGE_CONFIG_DIR names the user's config dir, so the CLI reads the user's own
  credentials file (macOS: Keychain entry), refreshes it under its own lock in that directory
  (`.storage-write.lock`, shared by every session and by the user's own `claude`) and writes the
  rotated tokens back where the user's CLI finds them. Checked with Claude Code 2.1.330.
- Codex: CODEX_API_KEY, OPENAI_API_KEY, then the login `codex login` keeps in
  `$CODEX_HOME/auth.json` (ChatGPT, or a stored key). The run's CODEX_HOME holds a symbolic link
  to the user's auth.json and one to the user's auth.lock: Codex (0.171.0) takes its refresh
  lock through `auth.lock` and the resolved file's `auth.json.lock`, and writes the refreshed
  tokens to the link's target, so every session and the user's own `codex` share one file
  under one lock. config.toml is copied (models and providers live there), nothing else.
  Should a CLI replace the link by a file of its own, `write_back` puts that file in place at
  the project's next Codex launch.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STORE_DIR_VARIABLE = "CLAUDE_SECURESTORAGE_CONFIG_DIR"  # where Claude Code keeps its login
KEYCHAIN_SERVICE = "Claude Code-credentials"


@dataclass(frozen=True)
class Login:
    """The credential a profile's sessions will use, and what a person does when it is refused."""

    kind: str  # env | subscription | keychain | login-file | none
    name: str  # the variable, or the login's description
    where: str  # the file, or "" for a variable
    fix: str


def _home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or Path.home())


def user_claude_dir(environ: Mapping[str, str]) -> Path:
    """The user's own Claude Code config dir: $CLAUDE_CONFIG_DIR, else ~/.claude."""
    own = environ.get("CLAUDE_CONFIG_DIR")
    return Path(own) if own else _home(environ) / ".claude"


def user_codex_home(environ: Mapping[str, str]) -> Path:
    """The user's own Codex home: $CODEX_HOME, else ~/.codex."""
    own = environ.get("CODEX_HOME")
    return Path(own) if own else _home(environ) / ".codex"


def claude_store_dir(environ: Mapping[str, str], platform: str = sys.platform) -> str:
    """CLAUDE_SECURESTORAGE_CONFIG_DIR for a session: the user's config dir. On macOS the CLI
    names its Keychain entry after this directory when it is set (`Claude Code-credentials-`
    and a hash of it) and uses the plain entry when it is empty: so empty, unless the user runs
    `claude` with a CLAUDE_CONFIG_DIR of their own."""
    own = environ.get("CLAUDE_CONFIG_DIR")
    if own:
        return own
    return "" if platform == "darwin" else str(user_claude_dir(environ))


CLAUDE_VARIABLES = (
    ("CLAUDE_CODE_USE_BEDROCK", "check your AWS credentials and region (Amazon Bedrock)"),
    ("CLAUDE_CODE_USE_VERTEX", "check your Google Cloud credentials (`gcloud auth "
     "application-default login`) and project (Vertex AI)"),
    ("ANTHROPIC_AUTH_TOKEN", "check ANTHROPIC_AUTH_TOKEN (and ANTHROPIC_BASE_URL, where it goes)"),
    ("ANTHROPIC_API_KEY", "set ANTHROPIC_API_KEY to a valid key (console.anthropic.com, API keys)"),
    ("CLAUDE_CODE_OAUTH_TOKEN", "make a new token with `claude setup-token` and export it as "
     "CLAUDE_CODE_OAUTH_TOKEN"),
)  # fmt: skip
CODEX_VARIABLES = (
    ("CODEX_API_KEY", "set CODEX_API_KEY to a valid OpenAI API key"),
    ("OPENAI_API_KEY", "set OPENAI_API_KEY to a valid OpenAI API key"),
)


def _has_subscription(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    oauth = data.get("claudeAiOauth") if isinstance(data, dict) else None
    return isinstance(oauth, dict) and bool(oauth.get("refreshToken") or oauth.get("accessToken"))


def claude_login(environ: Mapping[str, str], platform: str = sys.platform) -> Login:
    """The credential Claude Code sessions will use (the CLI's own order)."""
    for name, fix in CLAUDE_VARIABLES:
        if environ.get(name):
            return Login("env", name, "", fix)
    relogin = "run `claude` and log in with /login (or export CLAUDE_CODE_OAUTH_TOKEN made by "
    relogin += "`claude setup-token`, or ANTHROPIC_API_KEY)"
    if platform == "darwin":
        store = claude_store_dir(environ, platform)
        return Login("keychain", "your Claude login in the macOS Keychain", store, relogin)
    credentials = user_claude_dir(environ) / ".credentials.json"
    if _has_subscription(credentials):
        return Login("subscription", "your Claude subscription login", str(credentials), relogin)
    none = "run `claude` and log in with /login, or export ANTHROPIC_API_KEY (or "
    none += "CLAUDE_CODE_OAUTH_TOKEN from `claude setup-token`)"
    return Login("none", "no Claude credential", str(credentials), none)


def codex_login(environ: Mapping[str, str]) -> Login:
    """The credential Codex sessions will use."""
    for name, fix in CODEX_VARIABLES:
        if environ.get(name):
            return Login("env", name, "", fix)
    auth = user_codex_home(environ) / "auth.json"
    if auth.is_file():
        fix = "run `codex login` again (or export OPENAI_API_KEY)"
        return Login("login-file", "your Codex login (auth.json)", str(auth), fix)
    if _codex_store(user_codex_home(environ)) in ("keyring", "auto"):
        fix = "Codex keeps a keyring login under the name of its CODEX_HOME, which a run's own "
        fix += 'does not have: set cli_auth_credentials_store = "file" in config.toml and run '
        fix += "`codex login` again, or export OPENAI_API_KEY"
        return Login("none", "no Codex credential a run can use", str(auth), fix)
    return Login(
        "none", "no Codex credential", str(auth), "export OPENAI_API_KEY, or run `codex login`"
    )


def _codex_store(home: Path) -> str:
    """config.toml's `cli_auth_credentials_store` (file, keyring, auto; Codex's default: file)."""
    try:
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "file"
    return str(config.get("cli_auth_credentials_store", "file"))


def login_for(setup: str, environ: Mapping[str, str]) -> Login | None:
    """The login of a profile's `setup:` (claude, codex); None for other agents."""
    if setup == "claude":
        return claude_login(environ)
    if setup == "codex":
        return codex_login(environ)
    return None


def auth_fix(setup: str, environ: Mapping[str, str]) -> str | None:
    """What to do when the provider refused the credential in use (an auth stop's fix)."""
    login = login_for(setup, environ)
    if login is None:
        return None
    where = f" ({login.where})" if login.where and login.kind != "none" else ""
    return f"{login.name}{where} was refused: {login.fix}" if login.kind != "none" else login.fix


def claude_login_env(environ: Mapping[str, str], env: dict[str, str]) -> Login:
    """Let a session in a config home of its own use the user's subscription login: point the
    CLI's credential store at the user's config dir (nothing is copied). A variable the user set
    is passed through by the profile and wins, as it would in the user's own `claude`."""
    login = claude_login(environ)
    if login.kind in ("subscription", "keychain"):
        env[STORE_DIR_VARIABLE] = claude_store_dir(environ)
    return login


def _link(link: Path, target: Path) -> None:
    """`link` -> `target`, replacing whatever `link` was (atomically: a new link renamed)."""
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    temporary = link.with_name(f".{link.name}.{os.getpid()}.link")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    os.replace(temporary, link)


@contextmanager
def login_lock(user_home: Path) -> Iterator[None]:
    """The lock Codex takes around a refresh (`auth.lock`, flock), on the user's own file: the
    run homes' `auth.lock` are links to it."""
    user_home.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(user_home / "auth.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _refreshed_at(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(data.get("last_refresh") or "") if isinstance(data, dict) else ""


def write_back(run_home: Path, user_home: Path) -> bool:
    """If a session's CLI replaced the run home's auth.json link by a file of its own, put that
    file where the user's CLI reads it (under the refresh lock, unless the user's file is newer)
    and link again. True if the user's file was replaced."""
    mine, theirs = run_home / "auth.json", user_home / "auth.json"
    if mine.is_symlink() or not mine.is_file():
        return False
    replaced = False
    with login_lock(user_home):
        if _refreshed_at(mine) >= _refreshed_at(theirs):
            staged = theirs.with_name(f".auth.json.{os.getpid()}.hatchdoit")
            shutil.copyfile(mine, staged)
            staged.chmod(0o600)
            os.replace(staged, theirs)
            replaced = True
        _link(mine, theirs)
    return replaced


def link_codex_home(run_home: Path, environ: Mapping[str, str]) -> Login:
    """The run's CODEX_HOME: the user's login linked in (auth.json, auth.lock) unless a key
    variable is in use, the user's config.toml copied; nothing else of the user's home. First,
    a login any earlier run's CLI left in place of its link is written back (`write_back`)."""
    user_home = user_codex_home(environ)
    run_home.mkdir(parents=True, exist_ok=True, mode=0o700)
    for earlier in sorted(run_home.parent.parent.parent.glob(f"*/*/{run_home.name}")):
        write_back(earlier, user_home)  # _logs/sessions/<ID>/<role>-00k/codex-home
    login = codex_login(environ)
    config = user_home / "config.toml"
    if config.is_file():
        shutil.copyfile(config, run_home / "config.toml")
    if login.kind == "login-file":
        (user_home / "auth.lock").touch(mode=0o600, exist_ok=True)
        _link(run_home / "auth.json", user_home / "auth.json")
        _link(run_home / "auth.lock", user_home / "auth.lock")
    else:
        for name in ("auth.json", "auth.lock"):
            if (run_home / name).is_symlink():
                (run_home / name).unlink()
    return login


def login_dirs(setup: str, environ: Mapping[str, str]) -> list[Path]:
    """The directories a session must be able to write for its login to refresh (a confined
    session included): the CLI writes a temporary file there, renames it over the credentials
    file and takes its lock files there. Empty when no login file is in use."""
    login = login_for(setup, environ)
    if login is None or login.kind not in ("subscription", "login-file"):
        return []
    return [Path(login.where).parent]


# The hosts a login talks to besides the model API (a confined session's network must reach
# them): Claude Code's token endpoint (2.1.330: https://platform.claude.com/v1/oauth/token) and
# account lookups; Codex's ChatGPT backend and its token endpoint (auth.openai.com/oauth/token).
LOGIN_HOSTS = {
    "claude": ("platform.claude.com", "api.anthropic.com"),
    "codex": ("auth.openai.com", "chatgpt.com"),
}


def login_hosts(setup: str, environ: Mapping[str, str]) -> list[str]:
    """The hosts a session's login needs (refresh, account), for a login file or the Keychain;
    empty for a key or token variable (its API host is the provider's)."""
    login = login_for(setup, environ)
    if login is None or login.kind not in ("subscription", "keychain", "login-file"):
        return []
    return list(LOGIN_HOSTS[setup])
