"""doctor's line on an agent profile's credentials: which one its sessions will use (the CLI's
own order, agents/logins.py), where it is, and the fix when there is none."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping

from hatchdoit.agents.logins import KEYCHAIN_SERVICE, Login, claude_store_dir, login_for
from hatchdoit.cli.doctor_check import Check, Status, run_tool


def _keychain_has(environ: Mapping[str, str]) -> bool | None:
    """Whether the macOS Keychain holds the Claude Code login the sessions will ask for (the
    entry's name only: nothing secret is read); None where that cannot be asked."""
    if shutil.which("security") is None:
        return None
    store = claude_store_dir(environ, "darwin")
    service = KEYCHAIN_SERVICE
    if store:
        import hashlib

        service += "-" + hashlib.sha256(store.encode()).hexdigest()[:8]
    code, _ = run_tool(["security", "find-generic-password", "-s", service])
    return code == 0


def _detail(setup: str, login: Login, environ: Mapping[str, str]) -> str:
    if login.kind == "env":
        if setup == "claude":
            where = environ.get("ANTHROPIC_BASE_URL") or "the Anthropic API"
            return f"credentials: {login.name} passed through to {where}"
        return f"credentials: {login.name}"
    if login.kind == "subscription":
        return (
            f"credentials: {login.name} ({login.where}), used in place by every session "
            "and refreshed there, shared with your own `claude`"
        )
    if login.kind == "keychain":
        return f"credentials: {login.name}, used in place by every session"
    # login-file: Codex
    return (
        f"credentials: auth.json, your Codex login ({login.where}), linked into each run's "
        "CODEX_HOME and refreshed there"
    )


def login_check(
    name: str,
    setup: str,
    params: Mapping[str, object],
    environ: Mapping[str, str],
    bad: Status,
) -> Check | None:
    """The credentials line of a claude or codex profile; None for other agents."""
    login = login_for(setup, environ)
    if login is None:
        return None
    if (
        setup == "claude"
        and str(params.get("config_home", "run")) == "user"
        and login.kind != "env"
    ):
        return Check(name, "ok", "credentials: your own Claude config home (config_home: user)")
    missing: Status = "warn" if bad == "fail" else "skip"
    if login.kind == "keychain" and sys.platform == "darwin" and _keychain_has(environ) is False:
        login = Login("none", "", login.where, login.fix)
    if login.kind != "none":
        return Check(name, "ok", _detail(setup, login, environ))
    if setup == "claude":
        return Check(
            name,
            missing,
            "no ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / CLAUDE_CODE_OAUTH_TOKEN in the "
            f"environment and no Claude login ({login.where or 'Keychain'})",
            login.fix,
        )
    return Check(
        name,
        missing,
        f"no OPENAI_API_KEY / CODEX_API_KEY and no codex login ({login.where})",
        login.fix,
    )
