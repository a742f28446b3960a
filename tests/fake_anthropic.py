"""A local stand-in of the Anthropic Messages API, for running the real Claude Code CLI offline.

Serves `POST /v1/messages` (streamed SSE or plain JSON) and `/v1/messages/count_tokens` on
127.0.0.1 only, answers anything else with a JSON 404, and shuts itself down after `max_requests`
requests or `lifetime` seconds. What each request is answered is decided by the scripted "model"
in fake_anthropic_model.py, from the conversation alone; this module is the HTTP server and the
Messages API's wire format (SSE events, plain messages, errors), and records every request it
saw for the tests' assertions. `faults` (a FaultPlan of tests/fake_faults.py) makes requests fail
the way the API does (tests/fake_anthropic_faults.py): 429, 529, 500, a usage limit, 401, a
dropped connection, a stream cut short.

Run on its own:  [FAKE_API_FAULTS=usage_limit:2] python3 tests/fake_anthropic.py [PORT [LIFETIME_S]]
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from fake_anthropic_faults import fault_response, fault_status
from fake_anthropic_model import Reply, decide, error_for, first_user_texts, last_tool_result
from fake_faults import FaultPlan
from fake_server import JsonHandler, LocalServer


@dataclass
class Seen:
    """One request as the server saw it (for test assertions)."""

    path: str
    kind: str  # main | side | count_tokens | other
    role: str = ""
    status: int = 200
    stream: bool = False
    tool: str = ""
    summary_asked: bool = False  # a user message asked for the summary (Stop hook or injection)
    asked: tuple[str, ...] = ()  # main requests: the text blocks of the first user message
    fault: str = ""  # the FaultPlan's fault this request was served, if any
    tool_output: str = ""  # main requests: what the CLI answered the latest tool call with


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    if reply.tool is not None:
        tool_id = f"toolu_{uuid.uuid4().hex[:24]}"
        return [
            {"type": "tool_use", "id": tool_id, "name": reply.tool.tool, "input": reply.tool.params}
        ]
    return [{"type": "text", "text": reply.text}]


def _usage(body: dict[str, Any], output: int) -> dict[str, int]:
    size = len(json.dumps(body.get("messages", [])))
    return {
        "input_tokens": max(1, size // 4),
        "output_tokens": output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def sse_events(body: dict[str, Any], reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """The SSE event sequence of one streamed message."""
    model = str(body.get("model", "claude-fake"))
    start = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(body, 1),
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    output = 0
    for index, block in enumerate(_blocks(reply)):
        if block["type"] == "text":
            empty = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
            output += len(block["text"]) // 4 + 1
        else:
            empty = {**block, "input": {}}
            raw = json.dumps(block["input"])
            delta = {"type": "input_json_delta", "partial_json": raw}
            output += len(raw) // 4 + 1
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
        )
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def plain_message(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model", "claude-fake")),
        "content": _blocks(reply),
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": _usage(body, 5),
    }


class FakeAnthropic(LocalServer[Seen]):
    """The server; use as a context manager. `url` goes into ANTHROPIC_BASE_URL. `faults` is
    its FaultPlan (tests/fake_faults.py): `fake.faults.add("usage_limit", 2)` fails the next two
    /v1/messages requests, then it answers normally again."""

    def __init__(
        self,
        *,
        max_requests: int = 400,
        lifetime: float = 300.0,
        port: int = 0,
        faults: FaultPlan | None = None,
        think_s: float = 0.0,
    ) -> None:
        self.faults = faults if faults is not None else FaultPlan()
        self.think_s = think_s  # each main request answers after this long (a model at work)
        super().__init__(max_requests=max_requests, lifetime=lifetime, port=port)

    def main_requests(self, role: str) -> list[Seen]:
        return [s for s in self.seen if s.kind == "main" and s.role == role]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                fake.record(Seen(self.path, "other", status=404))
                self.send_json(404, _error("not_found_error", f"no route {self.path}"))

            def do_POST(self) -> None:
                body = self.body_json()
                route = self.path.split("?", 1)[0]
                if route == "/v1/messages/count_tokens":
                    fake.record(Seen(self.path, "count_tokens"))
                    self.send_json(200, {"input_tokens": _usage(body, 0)["input_tokens"]})
                    return
                if route != "/v1/messages":
                    fake.record(Seen(self.path, "other", status=404))
                    self.send_json(404, _error("not_found_error", f"no route {self.path}"))
                    return
                role, reply = decide(body)
                stream = bool(body.get("stream"))
                fault = fake.faults.take(main=role != "side")
                failure = error_for(body.get("messages") or []) if role != "side" else None
                served = fault_status(fault) if fault else failure[0] if failure else 200
                seen = Seen(
                    self.path,
                    "side" if role == "side" else "main",
                    role=role,
                    stream=stream,
                    status=served,
                    tool=reply.tool.tool if reply.tool else "",
                    summary_asked=reply.summary_asked,
                    asked=tuple(first_user_texts(body.get("messages") or []))
                    if role != "side"
                    else (),
                    fault=fault.kind if fault else "",
                    tool_output=last_tool_result(body.get("messages") or [])
                    if role != "side"
                    else "",
                )
                if role != "side" and fake.think_s:
                    time.sleep(fake.think_s)
                if not fake.record(seen):
                    self.send_json(529, _error("overloaded_error", "fake API budget spent"))
                elif fault is not None and fault.kind == "disconnect":
                    self.drop()
                elif fault is not None and fault.kind == "stream_cut":
                    self.send_sse(sse_events(body, reply), cut_after=1)
                elif fault is not None:
                    status, headers, payload = fault_response(fault)
                    self.send_json(status, payload, headers)
                elif failure is not None:
                    self.send_json(failure[0], _error(failure[1], "scripted failure"))
                elif stream:
                    self.send_sse(sse_events(body, reply))
                else:
                    self.send_json(200, plain_message(body, reply))

        return Handler


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


if __name__ == "__main__":  # python3 tests/fake_anthropic.py [PORT [LIFETIME_S]]
    args = [float(a) for a in sys.argv[1:3]] + [0.0, 600.0][len(sys.argv) - 1 :]
    plan = FaultPlan.parse(os.environ.get("FAKE_API_FAULTS", ""))
    with FakeAnthropic(
        port=int(args[0]), lifetime=args[1], max_requests=2000, faults=plan
    ) as served:
        print(f"ANTHROPIC_BASE_URL={served.url}", flush=True)
        served.wait_closed(args[1] + 5)
