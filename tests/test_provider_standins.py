"""The provider stand-ins themselves (no CLI): the fault script of tests/fake_faults.py, each
fault's wire format in both stand-ins, and the Responses API stream of tests/fake_openai.py."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from fake_anthropic import FakeAnthropic
from fake_anthropic_faults import gateway_token
from fake_faults import Fault, FaultPlan
from fake_openai import FakeOpenAI

FACTORY = "# TaskSpec T1: x\nYou are the factory agent. Attempt 1 of 2.\n```file:a.py\nx = 1\n```\n"


def post(url: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body); status 0 when the server dropped the connection."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
    except (ConnectionError, http.client.HTTPException):
        return 0, {}, b""
    headers = {k.lower(): v for k, v in response.getheaders()}
    try:
        return response.status, headers, response.read()
    except http.client.IncompleteRead as cut:  # a stream that broke off
        return response.status, headers, cut.partial
    finally:
        conn.close()


def test_fault_plan_fails_the_next_requests_then_recovers() -> None:
    plan = FaultPlan().add("rate_limit", 2).add("server_error", 1)
    assert [f.kind if f else None for f in (plan.take() for _ in range(4))] == [
        "rate_limit",
        "rate_limit",
        "server_error",
        None,
    ]
    forever = FaultPlan.parse("overloaded:1,unauthorized")
    assert [f.kind if f else None for f in (forever.take() for _ in range(3))] == [
        "overloaded",
        "unauthorized",
        "unauthorized",
    ]
    main_only = FaultPlan(scope="main").add("server_error", 1)
    assert main_only.take(main=False) is None and main_only.take() is not None
    with pytest.raises(ValueError, match="unknown fault"):
        Fault("nope")


def test_usage_limit_refuses_until_its_reset() -> None:
    plan = FaultPlan().add("usage_limit", None, reset_in=600)
    faults = [plan.take() for _ in range(3)]
    assert {f.kind if f else None for f in faults} == {"usage_limit"}
    assert faults[0] is not None and 599 <= faults[0].resets_at - time.time() <= 601
    over = FaultPlan().add("usage_limit", None, reset_in=-1).add("server_error", 1)
    after = over.take()  # the limit has reset already: the next step serves
    assert after is not None and after.kind == "server_error" and over.take() is None


def test_anthropic_faults_on_the_wire() -> None:
    body = {"model": "m", "stream": True, "tools": [{"name": "Write"}]}
    body["messages"] = [{"role": "user", "content": FACTORY}]
    plan = FaultPlan.parse("rate_limit:1,overloaded:1,server_error:1,unauthorized:1")
    plan.add("usage_limit", 1, reset_in=600).add("disconnect", 1).add("stream_cut", 1)
    plan.add("billing", 1)
    with FakeAnthropic(faults=plan, lifetime=30) as fake:
        got = [post(fake.url, "/v1/messages?beta=true", body) for _ in range(9)]
    errors = [json.loads(raw)["error"]["type"] for _, _, raw in got[:5]]
    assert errors == [
        "rate_limit_error",
        "overloaded_error",
        "api_error",
        "authentication_error",
        "rate_limit_error",
    ]
    assert [status for status, _, _ in got] == [429, 529, 500, 401, 429, 0, 200, 400, 200]
    assert "credit balance is too low" in json.loads(got[7][2])["error"]["message"]
    assert got[0][1]["retry-after"] == "1"
    usage = got[4][1]
    assert usage["anthropic-ratelimit-unified-status"] == "rejected"
    assert usage["anthropic-ratelimit-unified-representative-claim"] == "five_hour"
    reset = int(usage["anthropic-ratelimit-unified-reset"])
    assert 595 <= reset - time.time() <= 601 and 595 <= int(usage["retry-after"]) <= 601
    assert got[6][2].count(b"event: ") == 1, "the cut stream sends its first event only"
    assert b"event: message_stop" in got[8][2], "answers normally after the plan"
    assert [s.fault for s in fake.seen] == [
        "rate_limit",
        "overloaded",
        "server_error",
        "unauthorized",
        "usage_limit",
        "disconnect",
        "stream_cut",
        "billing",
        "",
    ]


def test_gateway_token_is_a_jwt_for_claude_gateway() -> None:
    import base64

    head, claims, _ = gateway_token().split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["aud"] == "claude-gateway" and head


def sse(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]


def test_openai_stand_in_streams_a_function_call_then_text() -> None:
    tools = [{"type": "function", "name": "exec_command"}]
    prompt = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": FACTORY}],
    }
    body: dict[str, Any] = {"model": "gpt-fake", "stream": True, "tools": tools, "input": [prompt]}
    with FakeOpenAI(lifetime=30) as fake:
        status, headers, raw = post(fake.url, "/v1/responses", body)
        assert status == 200 and headers["content-type"] == "text/event-stream"
        events = sse(raw)
        assert [e["type"] for e in events] == [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
        call = events[-2]["item"]
        assert call["type"] == "function_call" and call["name"] == "exec_command"
        assert "base64 -d > a.py" in json.loads(call["arguments"])["cmd"]
        usage = events[-1]["response"]["usage"]
        assert usage["input_tokens"] > 0 and usage["total_tokens"] > usage["input_tokens"]
        # the CLI ran the three planned calls (write, commit, summary): the model is done
        done = [
            {"type": "function_call", "call_id": f"c{n}", "name": "exec_command", "arguments": "{}"}
            for n in range(3)
        ]
        status, _, raw = post(fake.url, "/v1/responses", {**body, "input": [prompt, *done]})
        text = [e for e in sse(raw) if e["type"] == "response.output_text.delta"]
        assert [e["delta"] for e in text] == ["Done (factory)."]
        assert [s.tool for s in fake.seen] == ["Write", ""]


def test_openai_faults_on_the_wire() -> None:
    body = {"model": "gpt-fake", "stream": True, "input": []}
    plan = FaultPlan.parse("rate_limit:1,overloaded:1,server_error:1,unauthorized:1")
    plan.add("usage_limit", 1, reset_in=600).add("billing", 1).add("disconnect", 1)
    with FakeOpenAI(faults=plan, lifetime=30) as fake:
        got = [post(fake.url, "/v1/responses", body) for _ in range(8)]
    errors = [json.loads(raw)["error"] for _, _, raw in got[:6]]
    assert [(e["type"], e.get("code")) for e in errors] == [
        ("requests", "rate_limit_exceeded"),
        ("service_unavailable_error", "server_is_overloaded"),
        ("server_error", None),
        ("invalid_request_error", "invalid_api_key"),
        ("usage_limit_reached", None),
        ("insufficient_quota", "insufficient_quota"),
    ]
    assert [status for status, _, _ in got] == [429, 503, 500, 401, 429, 429, 0, 200]
    assert 595 <= errors[4]["resets_at"] - time.time() <= 601
    assert got[4][1]["x-codex-primary-used-percent"] == "100"
