"""The Anthropic Messages API's answers to the faults of tests/fake_faults.py: status, headers and
error body as api.anthropic.com sends them (`{"type":"error","error":{"type":...,"message":...}}`
with a `request-id`; docs.anthropic.com "Errors" and "Rate limits").

A usage limit is the plan limiter's refusal: HTTP 429 `rate_limit_error` with
`anthropic-ratelimit-unified-status: rejected`, the reset as Unix seconds in
`anthropic-ratelimit-unified-reset` (and the 5-hour window's own headers) and `retry-after` until
then. Claude Code reads those headers only from a claude.ai subscription or an LLM gateway
(ANTHROPIC_AUTH_TOKEN a JWT whose `aud` is "claude-gateway", see `gateway_token`); with an API
key it sees a plain 429 (docs/provider-signals.md has what each CLI does with them).
"""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Any

from fake_faults import Fault

STATUS = {
    "rate_limit": 429,
    "overloaded": 529,
    "server_error": 500,
    "usage_limit": 429,
    "unauthorized": 401,
    "billing": 400,
    "disconnect": 0,  # no response at all
    "stream_cut": 200,
}
ERRORS = {
    "rate_limit": (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per "
        "minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
    ),
    "overloaded": ("overloaded_error", "Overloaded"),
    "server_error": ("api_error", "Internal server error"),
    "usage_limit": (
        "rate_limit_error",
        "This request would exceed your account's rate limit. Please try again later.",
    ),
    "unauthorized": ("authentication_error", "invalid x-api-key"),
    "billing": (
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing"
        " to upgrade or purchase credits.",
    ),
}


def fault_status(fault: Fault) -> int:
    """The HTTP status a fault is served with (0: the connection is dropped)."""
    return STATUS[fault.kind]


def fault_response(fault: Fault) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, JSON body) of an HTTP fault (not `disconnect` / `stream_cut`)."""
    kind, message = ERRORS[fault.kind]
    headers: dict[str, str] = {}
    if fault.kind == "overloaded" and fault.retry_after is not None:
        headers["retry-after"] = str(fault.retry_after)
    if fault.kind == "rate_limit":
        wait = fault.retry_after if fault.retry_after is not None else 1
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + wait))
        headers["retry-after"] = str(wait)
        headers.update(
            {
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": reset,
            }
        )
    if fault.kind == "usage_limit":
        headers.update(usage_limit_headers(fault))
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return STATUS[fault.kind], headers, body


def usage_limit_headers(fault: Fault) -> dict[str, str]:
    """The plan limiter's headers on a refused request: the 5-hour window is used up."""
    resets_at = fault.resets_at
    wait = max(1, math.ceil(resets_at - time.time()))
    return {
        "retry-after": str(fault.retry_after if fault.retry_after is not None else wait),
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": str(resets_at),
        "anthropic-ratelimit-unified-representative-claim": "five_hour",
        "anthropic-ratelimit-unified-5h-status": "rejected",
        "anthropic-ratelimit-unified-5h-reset": str(resets_at),
        "anthropic-ratelimit-unified-5h-utilization": "1.0",
        "anthropic-ratelimit-unified-7d-status": "allowed",
        "anthropic-ratelimit-unified-7d-reset": str(resets_at + 6 * 86400),
        "anthropic-ratelimit-unified-7d-utilization": "0.42",
        "anthropic-ratelimit-unified-overage-status": "rejected",
        "anthropic-ratelimit-unified-overage-disabled-reason": "overage_not_provisioned",
        "anthropic-ratelimit-unified-fallback-percentage": "0.5",
    }


def gateway_token(subject: str = "hatchdoit-tests") -> str:
    """An (unsigned) JWT that makes Claude Code treat ANTHROPIC_BASE_URL as an LLM gateway, whose
    usage-limit headers it reads: `ANTHROPIC_AUTH_TOKEN=<this>`. Nothing checks the signature."""

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims = {"aud": "claude-gateway", "sub": subject, "exp": int(time.time()) + 86400}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"
