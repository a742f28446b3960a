"""What an agent CLI says when its provider fails: one table per CLI, with the CLI versions it
was checked against (docs/provider-signals.md has the measurements, tests/test_provider_signals.py
pins them against the real CLIs), read by the classifiers in providers/faults.py, by `hatchdoit
doctor` and by the tests. Standard library only: the headless runner and the stop hook import
it in a fresh interpreter."""

from __future__ import annotations

import re
from typing import NamedTuple

# The provider's trouble, not the TaskSpec's: the attempt does not count; the TaskSpec pauses
# and the same attempt runs again later.
TRANSIENT = frozenset({"usage_limit", "rate_limited", "overloaded", "server_error", "network"})
# No point going on until a person fixes the account: the build stops launching.
FATAL = frozenset({"auth", "billing"})


YOUVE = r"You(?:'|\u2019)ve"  # Codex writes a curly apostrophe


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("".join(parts), re.IGNORECASE)


class CliTable(NamedTuple):
    cli: str
    checked: tuple[str, ...]  # the versions these were measured or read against
    errors: dict[str, str]  # an error code the CLI names -> class
    statuses: dict[int, str]  # an HTTP status it reports -> class (other 5xx: server_error)
    texts: tuple[tuple[re.Pattern[str], str], ...]  # what it prints -> class; first match wins


# Claude Code: stream-json (`claude -p --output-format stream-json --verbose`), its StopFailure
# hook payload and its TUI's screen.
CLAUDE_CODE = CliTable(
    cli="Claude Code",
    checked=("2.1.330",),
    # `error` of a system/api_retry event, of an assistant message, of the StopFailure payload;
    # `api_error` of the final result
    errors={
        "authentication_failed": "auth",
        "oauth_token_expired": "auth",
        "permission_denied": "auth",
        "billing_error": "billing",
        "rate_limit": "rate_limited",
        "usage_limit_reached": "usage_limit",
        "overloaded": "overloaded",
        "server_error": "server_error",
        "connection_failed": "network",
    },
    # `error_status` of api_retry, `api_error_status` of an assistant message or the result
    statuses={401: "auth", 403: "auth", 429: "rate_limited", 529: "overloaded"},
    # what it prints (result text, last assistant message, the TUI's screen); a named group
    # `reset` is the reset time as written, `epoch` the reset in Unix seconds
    texts=(
        (
            _rx(YOUVE, r" hit your [\w -]+? limit\s*·\s*resets (?P<reset>[^\n·]+)"),
            "usage_limit",
        ),
        (_rx(r"Claude AI usage limit reached\|(?P<epoch>\d{9,11})"), "usage_limit"),
        (_rx(r"limit reached · retrying in"), "usage_limit"),
        (_rx(r"Credit balance is too low"), "billing"),
        (
            _rx(
                r"Invalid API key|Please run /login|OAuth token (?:has )?expired", r"|Error: 40[13]"
            ),
            "auth",
        ),
        (_rx(r"API Error: 529|Overloaded"), "overloaded"),
        (_rx(r"API Error: 5\d\d\b"), "server_error"),
        (_rx(r"Request rejected \(429\)|API Error: 429"), "rate_limited"),
        (
            _rx(
                r"Connection (?:dropped|to the API was lost)", r"|ECONNRESET|ECONNREFUSED|ETIMEDOUT"
            ),
            "network",
        ),
    ),
)

# Codex (`codex exec --json`): only its messages carry the signal (`error` lines and
# `turn.failed.error.message`; "Reconnecting... N/M (...)" lines are retries in progress).
CODEX = CliTable(
    cli="Codex",
    checked=("0.171.0",),
    errors={},
    statuses={},
    texts=(
        (
            _rx(YOUVE, r" hit your usage limit.*?try again at (?P<reset>[^\n]+?)\.?$"),
            "usage_limit",
        ),
        (_rx(YOUVE, r" hit your usage limit"), "usage_limit"),
        (_rx(r"Quota exceeded|insufficient_quota|out of credits|spend cap"), "billing"),
        (
            _rx(r"unexpected status 40[13]\b|Incorrect API key|invalid_api_key|Not logged in"),
            "auth",
        ),
        (_rx(r"last status: 429|Too Many Requests|rate limit"), "rate_limited"),
        (_rx(r"at capacity|server_is_overloaded|overloaded"), "overloaded"),
        (
            _rx(r"experiencing high demand|last status: 5\d\d|unexpected status 5\d\d"),
            "server_error",
        ),
        (
            _rx(
                r"stream disconnected|error sending request", r"|Transport error|connection refused"
            ),
            "network",
        ),
    ),
)

# Any CLI: `"$HATCHDOIT_STOP_HOOK" stop-failure '{"kind": "<class>", "message": "...",
# "resets_at": <unix seconds or ISO time>, "retry_after_s": N}'` (agent-profiles.md).
GENERIC = CliTable(cli="any CLI", checked=(), errors={}, statuses={}, texts=())

TABLES = {"claude": CLAUDE_CODE, "codex": CODEX, "generic": GENERIC}
