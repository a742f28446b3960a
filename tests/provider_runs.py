"""One headless run of a real CLI against a stand-in, as hatchdoit's headless profiles run it:
`claude -p --output-format stream-json --verbose --settings F` (claude-code-headless) and
`codex exec --json ... -` (codex), in a temp git repo with a home, config and key of the run's own.
Used by tests/test_provider_signals.py and tests/measure_provider_signals.py.

Claude Code's hooks (Stop, StopFailure, SessionEnd, Notification) are a `--settings` file whose
commands append their stdin (the hook payload) to `hooks.jsonl`, so a run also says which hooks
fired and with what. Claude Code authenticates in one of three ways here:
- key      ANTHROPIC_API_KEY (an API-key account: no plan usage limits)
- gateway  ANTHROPIC_AUTH_TOKEN a JWT with `aud: claude-gateway` (an LLM gateway that reports
           the plan limiter's `anthropic-ratelimit-unified-*` headers)
- oauth    CLAUDE_CODE_OAUTH_TOKEN (a claude.ai subscription's token)
Only the stand-in on 127.0.0.1 is ever contacted (checked with strace: no other connection and
no DNS lookup, with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 and Codex's catalogs switched off).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_code_cli import FAKE_KEY as ANTHROPIC_KEY
from cli_runs import CliRun, Event, run_cli
from codex_cli import codex_env, codex_home
from fake_anthropic import FakeAnthropic
from fake_anthropic_faults import gateway_token
from fake_openai import FakeOpenAI
from projects import IDENTITY

OAUTH_TOKEN = "sk-ant-oat01-fake-oauth-token-for-offline-tests-000000000000"
HOOKS = ("Stop", "StopFailure", "SessionEnd", "Notification")
HOOK_SCRIPT = """import json, sys
payload = sys.stdin.read()
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(json.dumps(json.loads(payload or "{}")) + "\\n")
"""
PROMPT = "Say hello."


@dataclass
class Outcome:
    """A CLI run plus what the stand-in and the hooks saw."""

    run: CliRun
    requests: list[Any] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)

    def hook_events(self) -> list[str]:
        return [str(h.get("hook_event_name")) for h in self.hooks]


def _repo(work: Path) -> Path:
    repo = work / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def claude_settings(work: Path, names: tuple[str, ...] = HOOKS) -> tuple[Path, Path]:
    """(the --settings file, the file its hooks append their payloads to)."""
    script = work / "hook.py"
    script.write_text(HOOK_SCRIPT, encoding="utf-8")
    record = work / "hooks.jsonl"
    command = shlex.join([sys.executable, str(script), str(record)])
    hooks = {name: [{"hooks": [{"type": "command", "command": command}]}] for name in names}
    settings = work / "settings.json"
    settings.write_text(json.dumps({"hooks": hooks}), encoding="utf-8")
    return settings, record


def claude_env(work: Path, fake: FakeAnthropic, auth: str, **extra: str) -> dict[str, str]:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": fake.url,
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        **IDENTITY,
    }
    if os.geteuid() == 0:
        env["IS_SANDBOX"] = "1"  # as hatchdoit's tests run it as root
    credential = {
        "key": ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        "gateway": ("ANTHROPIC_AUTH_TOKEN", gateway_token()),
        "oauth": ("CLAUDE_CODE_OAUTH_TOKEN", OAUTH_TOKEN),
    }[auth]
    env[credential[0]] = credential[1]
    env.update(extra)
    return env


def run_claude(
    claude_bin: Path,
    fake: FakeAnthropic,
    work: Path,
    *,
    auth: str = "key",
    env: dict[str, str] | None = None,
    prompt: str = PROMPT,
    timeout: float = 60,
    stop_when: Callable[[Event], bool] | None = None,
) -> Outcome:
    """`claude -p --output-format stream-json --verbose` as claude-code-headless runs it."""
    work.mkdir(parents=True, exist_ok=True)
    settings, record = claude_settings(work)
    argv = [str(claude_bin), "-p", "--output-format", "stream-json", "--verbose"]
    argv += ["--settings", str(settings), "--permission-mode", "dontAsk"]
    run = run_cli(
        argv,
        cwd=_repo(work),
        env=claude_env(work, fake, auth, **(env or {})),
        prompt=prompt,
        timeout=timeout,
        stop_when=stop_when,
    )
    hooks = []
    if record.exists():
        hooks = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    return Outcome(run, list(fake.seen), hooks)


def run_codex(
    codex_bin: Path,
    fake: FakeOpenAI,
    work: Path,
    *,
    provider: dict[str, Any] | None = None,
    prompt: str = PROMPT,
    timeout: float = 60,
    stop_when: Callable[[Event], bool] | None = None,
) -> Outcome:
    """`codex exec --json --skip-git-repo-check --sandbox workspace-write -` as the codex profile
    runs it; `provider` sets model-provider keys (request_max_retries, stream_max_retries, ...)."""
    work.mkdir(parents=True, exist_ok=True)
    home = codex_home(work / "codex-home", fake, **(provider or {}))
    env = {**codex_env(work / "home", home), **IDENTITY, "TZ": "UTC"}
    argv = [str(codex_bin), "exec", "--json", "--skip-git-repo-check"]
    argv += ["--sandbox", "workspace-write", "-c", 'approval_policy="never"', "-"]
    run = run_cli(
        argv, cwd=_repo(work), env=env, prompt=prompt, timeout=timeout, stop_when=stop_when
    )
    return Outcome(run, list(fake.seen))


@dataclass
class TuiOutcome:
    """The interactive TUI's screen once the turn ended, and the hooks that fired."""

    pane: str
    hooks: list[dict[str, Any]]
    requests: list[Any]

    def hook(self, name: str) -> dict[str, Any] | None:
        return next((h for h in self.hooks if h.get("hook_event_name") == name), None)


def _seed_config_home(home: Path, repo: Path) -> None:
    """A config home that asks nothing at start-up (onboarding, trust, bypass, the API key)."""
    config = home / ".claude"
    config.mkdir(parents=True, exist_ok=True)
    trusted = {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}
    state = {
        "hasCompletedOnboarding": True,
        "numStartups": 1,
        "bypassPermissionsModeAccepted": True,
        "projects": {str(repo): trusted, os.path.realpath(repo): trusted},
        "customApiKeyResponses": {"approved": [ANTHROPIC_KEY[-20:]], "rejected": []},
    }
    (config / ".claude.json").write_text(json.dumps(state), encoding="utf-8")


def run_claude_tui(
    claude_bin: Path,
    fake: FakeAnthropic,
    work: Path,
    *,
    auth: str = "key",
    prompt: str = PROMPT,
    timeout: float = 60,
) -> TuiOutcome:
    """The interactive TUI in tmux (a private socket): the prompt is typed once SessionStart
    fired and the input box is on screen; the run ends at its Stop or StopFailure hook."""
    from conftest import retry_until

    work.mkdir(parents=True, exist_ok=True)
    settings, record = claude_settings(work, (*HOOKS, "SessionStart", "UserPromptSubmit"))
    repo = _repo(work)
    env = claude_env(work, fake, auth, TERM="xterm-256color")
    _seed_config_home(Path(env["HOME"]), repo)
    inner = [str(claude_bin), "--settings", str(settings), "--dangerously-skip-permissions"]
    command = shlex.join(["env", "-i", *(f"{k}={v}" for k, v in env.items()), *inner])
    sockets = tempfile.mkdtemp(prefix="hd-tui-")  # short: a socket path has a length limit
    tmux_env = {"PATH": env["PATH"], "HOME": env["HOME"], "TMUX_TMPDIR": sockets}
    socket = "tui"

    def tmux(*args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", socket, *args], env=tmux_env, capture_output=True, text=True
        )
        return done.stdout

    def fired(*names: str) -> list[dict[str, Any]]:
        if not record.exists():
            return []
        hooks = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
        return [h for h in hooks if h.get("hook_event_name") in names]

    tmux("new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", "-c", str(repo), command)
    try:
        retry_until(lambda: fired("SessionStart"), timeout, 0.2, "the TUI's SessionStart hook")
        retry_until(lambda: "bypass permissions" in tmux("capture-pane", "-p"), timeout, 0.2)
        tmux("send-keys", "-t", "tui", "-l", prompt)
        tmux("send-keys", "-t", "tui", "Enter")
        retry_until(lambda: fired("UserPromptSubmit"), 10, 0.2, "the prompt's submission")
        ended = retry_until(lambda: fired("Stop", "StopFailure"), timeout, 0.2, "the turn's end")
        # the TUI may draw the turn's last message a moment after its hook fired: the screen is
        # read until it shows (5 s at most; a test that wants it on screen asserts so)
        said = str(ended[-1].get("last_assistant_message") or "")[:30]
        deadline = time.monotonic() + 5.0
        pane = tmux("capture-pane", "-p")
        while said and said not in pane and time.monotonic() < deadline:
            time.sleep(0.1)
            pane = tmux("capture-pane", "-p")
    finally:
        tmux("kill-server")
        shutil.rmtree(sockets, ignore_errors=True)
    return TuiOutcome(pane, fired(*HOOKS, "SessionStart", "UserPromptSubmit"), list(fake.seen))
