"""Stand-ins for the subscription logins (tests/test_logins_cli.py): the provider stand-ins of
tests/fake_anthropic.py and tests/fake_openai.py, plus what a login adds to them.

- every model request's bearer token is recorded (`bearers`); one the stand-in did not issue,
  or whose time is up, is answered 401 the way the provider does;
- the OAuth token endpoint (`/v1/oauth/token` for Claude Code, `/oauth/token` for Codex) trades
  a refresh token for a new pair and **rotates** it: the old refresh token is spent, a second
  use of it is refused (`invalid_grant`), as the real services do. `refreshes` counts the trades.

`claude_login()` and `codex_login()` write the login files as the CLIs keep them, in a fake HOME.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fake_anthropic import FakeAnthropic
from fake_openai import FakeOpenAI

from hatchdoit.agents.profiles import load_profile
from hatchdoit.agents.setup import SessionPaths, SessionSetup, prepare_session
from hatchdoit.core.bundled import AGENTS, SCRIPTS


@dataclass
class Tokens:
    """The stand-in's account: which tokens it accepts now."""

    access: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)
    spent: set[str] = field(default_factory=set)
    refreshes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, access: str, refresh: str) -> None:
        with self.lock:
            self.access.add(access)
            self.refresh.add(refresh)

    def trade(self, refresh: str) -> tuple[str, str] | None:
        """A new pair for `refresh`, which is spent; None if it is not (or no longer) valid."""
        with self.lock:
            if refresh not in self.refresh:
                return None
            self.refresh.discard(refresh)
            self.spent.add(refresh)
            self.refreshes += 1
            n = self.refreshes
            access, new_refresh = f"at-rotated-{n}", f"rt-rotated-{n}"
            self.access.add(access)
            self.refresh.add(new_refresh)
            return access, new_refresh

    def accepts(self, header: str | None) -> bool:
        token = (header or "").removeprefix("Bearer ").strip()
        with self.lock:
            return token in self.access


def _form_or_json(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length).decode() if length else ""
    try:
        data = json.loads(raw)
        return data if isinstance(data, dict) else {}
    except ValueError:
        return {k: v[0] for k, v in parse_qs(raw).items()}


class LoginAnthropic(FakeAnthropic):
    """tests/fake_anthropic.py with OAuth: bearer tokens checked, `/v1/oauth/token` served."""

    def __init__(
        self, tokens: Tokens, before: Callable[[int], None] | None = None, **kwargs: Any
    ) -> None:
        self.tokens = tokens
        self.bearers: list[str] = []
        self.before = before  # called with the number of the model request about to be checked
        super().__init__(**kwargs)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler()
        fake = self

        class Handler(base):  # type: ignore[misc,valid-type]
            def do_POST(self) -> None:
                route = self.path.split("?", 1)[0]
                if route == "/v1/oauth/token":
                    body = _form_or_json(self)
                    pair = fake.tokens.trade(str(body.get("refresh_token", "")))
                    if pair is None:
                        self.send_json(400, {"error": "invalid_grant"})
                        return
                    self.send_json(200, {"access_token": pair[0], "refresh_token": pair[1],
                                         "expires_in": 3600, "token_type": "Bearer",
                                         "scope": "user:inference user:profile"})  # fmt: skip
                    return
                header = self.headers.get("Authorization")
                if route.startswith("/v1/messages"):
                    with fake._lock:
                        fake.bearers.append(header or "")
                        number = len(fake.bearers)
                    if fake.before is not None:
                        fake.before(number)
                    if not fake.tokens.accepts(header):
                        length = int(self.headers.get("Content-Length") or 0)
                        self.rfile.read(length)
                        error = {"type": "authentication_error", "message": "Invalid bearer token"}
                        self.send_json(401, {"type": "error", "error": error})
                        return
                super().do_POST()

            def do_GET(self) -> None:
                if self.path.startswith("/api/oauth/profile"):
                    self.send_json(200, {"account": {"uuid": "acct-fake", "email": "a@b.c"},
                                         "organization": {"uuid": "org-fake"}})  # fmt: skip
                    return
                super().do_GET()

        return Handler


class LoginOpenAI(FakeOpenAI):
    """tests/fake_openai.py with a ChatGPT login: bearer tokens checked, `/oauth/token` served."""

    def __init__(self, tokens: Tokens, **kwargs: Any) -> None:
        self.tokens = tokens
        self.bearers: list[str] = []
        super().__init__(**kwargs)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler()
        fake = self

        class Handler(base):  # type: ignore[misc,valid-type]
            def do_POST(self) -> None:
                route = self.path.split("?", 1)[0]
                if route.endswith("/oauth/token"):
                    body = _form_or_json(self)
                    pair = fake.tokens.trade(str(body.get("refresh_token", "")))
                    if pair is None:
                        error = {"error": "invalid_grant", "code": "refresh_token_reused"}
                        self.send_json(401, {"error": error})
                        return
                    self.send_json(200, {"access_token": pair[0], "refresh_token": pair[1],
                                         "id_token": fake_jwt(), "expires_in": 3600})  # fmt: skip
                    return
                header = self.headers.get("Authorization")
                if route.endswith("/responses"):
                    with fake._lock:
                        fake.bearers.append(header or "")
                    if not fake.tokens.accepts(header):
                        length = int(self.headers.get("Content-Length") or 0)
                        self.rfile.read(length)
                        self.send_json(401, {"error": {"message": "token expired",
                                                       "code": "token_expired"}})  # fmt: skip
                        return
                super().do_POST()

        return Handler


def fake_jwt(**claims: Any) -> str:
    """An unsigned JWT with ChatGPT's claims (Codex reads the plan and account from it)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    payload = {
        "email": "user@example.com",
        "exp": int(time.time()) + 3600,
        "https://api.openai.com/auth": {
            "chatgpt_plan_type": "pro",
            "chatgpt_account_id": "acct-fake",
            "chatgpt_user_id": "user-fake",
        },
        **claims,
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}.sig"


def claude_login(home: Path, access: str, refresh: str, *, expired: bool = False) -> Path:
    """`~/.claude/.credentials.json` as `claude` /login leaves it."""
    expires = int(time.time() * 1000) + (-60_000 if expired else 3_600_000)
    oauth = {
        "accessToken": access,
        "refreshToken": refresh,
        "expiresAt": expires,
        "scopes": ["user:inference", "user:profile", "user:sessions:claude_code"],
        "subscriptionType": "max",
    }
    path = home / ".claude" / ".credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"claudeAiOauth": oauth}))
    path.chmod(0o600)
    return path


def codex_login(codex_dir: Path, access: str, refresh: str, *, stale: bool = False) -> Path:
    """`~/.codex/auth.json` as `codex login` (ChatGPT) leaves it; `stale`: refreshed long ago."""
    last = "2020-01-01T00:00:00Z" if stale else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data = {
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": fake_jwt(),
            "access_token": access,
            "refresh_token": refresh,
            "account_id": "acct-fake",
        },
        "last_refresh": last,
    }
    path = codex_dir / "auth.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    return path


def login_session(
    tmp_path: Path, profile: str, environ: dict[str, str], run: str = "factory-001"
) -> tuple[SessionSetup, SessionPaths]:
    """hatchdoit's set-up of one session of `profile` (its env and run directory), as a launch
    makes it, for a CLI that is not run (the executable is a stand-in unless environ names one)."""
    worktree = tmp_path / "_worktrees" / "T1"
    worktree.mkdir(parents=True, exist_ok=True)
    logs = tmp_path / "_logs"
    paths = SessionPaths(
        run_dir=logs / "sessions" / "T1" / run,
        worktree=worktree,
        logs_dir=logs,
        scripts_dir=SCRIPTS,
        stream_log=logs / "factory" / "T1" / f"stream-{run}.jsonl",
    )
    stand_in = tmp_path / "bin" / "cli"
    if not stand_in.exists():
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        stand_in.chmod(0o755)
    environ = {"HATCHDOIT_CLAUDE_BIN": str(stand_in), "HATCHDOIT_CODEX_BIN": str(stand_in),
               "PATH": "/usr/bin:/bin", **environ}  # fmt: skip
    values = {
        "python": sys.executable,
        "agents_dir": str(AGENTS),
        "scripts_dir": str(SCRIPTS),
        "role": "factory",
        "worktree": str(worktree),
        "prompt_file": str(logs / "factory" / "T1" / "prompt-001.md"),
        "taskspec_id": "T1",
        "attempt": "1",
    }
    setup = prepare_session(
        load_profile([AGENTS], profile),
        values=values,
        overrides={},
        paths=paths,
        extra_env={},
        environ=environ,
    )
    return setup, paths
