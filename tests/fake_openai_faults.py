"""The OpenAI Responses API's answers to the faults of tests/fake_faults.py: status, headers and
error body (`{"error":{"message","type","param","code"}}` with an `x-request-id`) as
api.openai.com and the ChatGPT Codex backend send them.

A usage limit is the Codex plan limiter's refusal (what a ChatGPT sign-in meets): HTTP 429 with
`error.type` "usage_limit_reached", the plan, and the reset as Unix seconds in `error.resets_at`
(also `resets_in_seconds`), plus the `x-codex-primary-*` window headers the CLI reads its rate
limit snapshot from. An API key's exhausted credit is `billing`: 429 `insufficient_quota`.
"""

from __future__ import annotations

import math
import time
from typing import Any

from fake_faults import Fault

STATUS = {
    "rate_limit": 429,
    "overloaded": 503,
    "server_error": 500,
    "usage_limit": 429,
    "unauthorized": 401,
    "billing": 429,
    "disconnect": 0,  # no response at all
    "stream_cut": 200,
}


def fault_status(fault: Fault) -> int:
    """The HTTP status a fault is served with (0: the connection is dropped)."""
    return STATUS[fault.kind]


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def fault_response(fault: Fault, model: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, JSON body) of an HTTP fault (not `disconnect` / `stream_cut`)."""
    headers: dict[str, str] = {}
    if fault.kind == "rate_limit":
        wait = fault.retry_after if fault.retry_after is not None else 1
        headers.update(
            {
                "retry-after": str(wait),
                "x-ratelimit-limit-requests": "50",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{wait}s",
            }
        )
        message = (
            f"Rate limit reached for {model} in organization org-fake on requests per min (RPM):"
            f" Limit 50, Used 50, Requested 1. Please try again in {wait}s. Visit"
            " https://platform.openai.com/account/rate-limits to learn more."
        )
        return 429, headers, _error(message, "requests", "rate_limit_exceeded")
    if fault.kind == "overloaded":
        if fault.retry_after is not None:
            headers["retry-after"] = str(fault.retry_after)
        message = "The server is overloaded. Please try again later."
        return 503, headers, _error(message, "service_unavailable_error", "server_is_overloaded")
    if fault.kind == "server_error":
        message = "The server had an error while processing your request. Sorry about that!"
        return 500, headers, _error(message, "server_error", None)
    if fault.kind == "unauthorized":
        message = (
            "Incorrect API key provided: sk-fake***0000. You can find your API key at"
            " https://platform.openai.com/account/api-keys."
        )
        return 401, headers, _error(message, "invalid_request_error", "invalid_api_key")
    if fault.kind == "billing":
        message = (
            "You exceeded your current quota, please check your plan and billing details. For"
            " more information on this error, read the docs:"
            " https://platform.openai.com/docs/guides/error-codes/api-errors."
        )
        return 429, headers, _error(message, "insufficient_quota", "insufficient_quota")
    if fault.kind == "usage_limit":
        return 429, usage_limit_headers(fault), usage_limit_body(fault)
    raise ValueError(f"{fault.kind} is not an HTTP fault")


def usage_limit_body(fault: Fault) -> dict[str, Any]:
    resets_in = max(0, math.ceil(fault.resets_at - time.time()))
    return {
        "error": {
            "type": "usage_limit_reached",
            "message": "The usage limit has been reached",
            "plan_type": "plus",
            "resets_at": fault.resets_at,
            "resets_in_seconds": resets_in,
        }
    }


def usage_limit_headers(fault: Fault) -> dict[str, str]:
    """The Codex limiter's window headers on a refused request: the 5-hour window is used up."""
    headers = {
        "x-codex-primary-used-percent": "100",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(fault.resets_at),
        "x-codex-secondary-used-percent": "42",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-at": str(fault.resets_at + 6 * 86400),
    }
    if fault.retry_after is not None:
        headers["retry-after"] = str(fault.retry_after)
    return headers
