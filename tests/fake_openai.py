"""A local stand-in of the OpenAI Responses API, for running the real Codex CLI offline.

The pinned Codex CLI (tests/codex_cli.py), given a model provider with `base_url =
"http://127.0.0.1:PORT/v1"` and `wire_api = "responses"`, sends `POST /v1/responses` with
`stream: true` and `Accept: text/event-stream` and reads the SSE events `response.created`,
`response.output_item.added` / `.done` (a `message` with `output_text`, or a `function_call`),
`response.output_text.delta` and `response.completed` (the response id and its token usage).
This server answers that on 127.0.0.1 only (a non-streamed request gets the response object as
JSON), `GET /v1/models` with a one-model list, anything else with a JSON 404, and shuts itself
down after `max_requests` requests or `lifetime` seconds. What each request is answered is
decided by tests/fake_openai_model.py from the conversation alone; `faults` (a FaultPlan of
tests/fake_faults.py) makes requests fail with tests/fake_openai_faults.py's wire format.

Run on its own:  FAKE_API_FAULTS=usage_limit python3 tests/fake_openai.py [PORT [LIFETIME_S]]
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

from fake_faults import FaultPlan
from fake_openai_faults import fault_response, fault_status
from fake_openai_model import Answer, decide, last_output, user_texts
from fake_server import JsonHandler, LocalServer

MODEL = "gpt-fake"


@dataclass
class Seen:
    """One request as the server saw it (for test assertions)."""

    path: str
    kind: str  # responses | models | other
    role: str = ""
    status: int = 200
    stream: bool = False
    tool: str = ""  # the planned tool the answer's call stands for (Write, Bash), if any
    fault: str = ""  # the FaultPlan's fault this request was served, if any
    authorization: str = ""
    asked: tuple[str, ...] = ()  # the user messages' texts
    tool_output: str = ""  # what the CLI answered the latest function call with


def _usage(body: dict[str, Any], output: int) -> dict[str, Any]:
    size = max(1, len(json.dumps(body.get("input", []))) // 4)
    return {
        "input_tokens": size,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": size + output,
    }


def output_item(answer: Answer) -> dict[str, Any]:
    """The response's one output item, completed."""
    if answer.call is not None:
        return {
            "id": f"fc_{uuid.uuid4().hex[:24]}",
            "type": "function_call",
            "status": "completed",
            "name": answer.call.name,
            "call_id": answer.call.call_id,
            "arguments": json.dumps(answer.call.arguments),
        }
    text = {"type": "output_text", "text": answer.text, "annotations": []}
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [text],
    }


def response_object(
    body: dict[str, Any], output: list[dict[str, Any]], status: str, response_id: str
) -> dict[str, Any]:
    done = status == "completed"
    tokens = sum(len(json.dumps(item)) for item in output) // 4 + 1
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": str(body.get("model") or MODEL),
        "output": output,
        "usage": _usage(body, tokens) if done else None,
    }


def sse_events(body: dict[str, Any], answer: Answer) -> list[tuple[str, dict[str, Any]]]:
    """The SSE event sequence of one streamed response."""
    response_id = f"resp_{uuid.uuid4().hex[:24]}"
    item = output_item(answer)
    pending = {**item, "status": "in_progress"}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": response_object(body, [], "in_progress", response_id)}),
        (
            "response.in_progress",
            {"response": response_object(body, [], "in_progress", response_id)},
        ),
    ]
    at = {"output_index": 0, "item_id": item["id"]}
    if item["type"] == "function_call":
        events += [
            (
                "response.output_item.added",
                {"output_index": 0, "item": {**pending, "arguments": ""}},
            ),
            ("response.function_call_arguments.delta", {**at, "delta": item["arguments"]}),
            ("response.function_call_arguments.done", {**at, "arguments": item["arguments"]}),
        ]
    else:
        text = item["content"][0]["text"]
        part = {**at, "content_index": 0}
        events += [
            ("response.output_item.added", {"output_index": 0, "item": {**pending, "content": []}}),
            ("response.content_part.added", {**part, "part": {**item["content"][0], "text": ""}}),
            ("response.output_text.delta", {**part, "delta": text}),
            ("response.output_text.done", {**part, "text": text}),
            ("response.content_part.done", {**part, "part": item["content"][0]}),
        ]
    events += [
        ("response.output_item.done", {"output_index": 0, "item": item}),
        (
            "response.completed",
            {"response": response_object(body, [item], "completed", response_id)},
        ),
    ]
    return [
        (name, {"type": name, "sequence_number": n, **data})
        for n, (name, data) in enumerate(events)
    ]


class FakeOpenAI(LocalServer[Seen]):
    """The server; use as a context manager. `base_url` (…/v1) is the model provider's base URL.
    `fake.faults.add("usage_limit", reset_in=3)` refuses every request for three seconds."""

    def __init__(
        self,
        *,
        max_requests: int = 400,
        lifetime: float = 300.0,
        port: int = 0,
        faults: FaultPlan | None = None,
    ) -> None:
        self.faults = faults if faults is not None else FaultPlan()
        super().__init__(max_requests=max_requests, lifetime=lifetime, port=port)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def responses(self, role: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.kind == "responses" and role in (None, s.role)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(JsonHandler):
            request_id_header = "x-request-id"

            def do_GET(self) -> None:
                route = self.path.split("?", 1)[0]
                if route == "/v1/models":
                    fake.record(Seen(self.path, "models"))
                    model = {"id": MODEL, "object": "model", "created": 0, "owned_by": "fake"}
                    self.send_json(200, {"object": "list", "data": [model]})
                    return
                fake.record(Seen(self.path, "other", status=404))
                self.send_json(404, _not_found(self.path))

            def do_POST(self) -> None:
                body = self.body_json()
                if self.path.split("?", 1)[0] != "/v1/responses":
                    fake.record(Seen(self.path, "other", status=404))
                    self.send_json(404, _not_found(self.path))
                    return
                role, answer = decide(body)
                stream = bool(body.get("stream"))
                fault = fake.faults.take()
                seen = Seen(
                    self.path,
                    "responses",
                    role=role,
                    status=fault_status(fault) if fault else 200,
                    stream=stream,
                    tool=answer.planned,
                    fault=fault.kind if fault else "",
                    authorization=self.headers.get("Authorization", ""),
                    asked=tuple(user_texts(body)),
                    tool_output=last_output(body),
                )
                if not fake.record(seen):
                    error = {"message": "fake API budget spent", "type": "server_error"}
                    self.send_json(503, {"error": error})
                elif fault is not None and fault.kind == "disconnect":
                    self.drop()
                elif fault is not None and fault.kind == "stream_cut":
                    self.send_sse(sse_events(body, answer), cut_after=1)
                elif fault is not None:
                    model = str(body.get("model") or MODEL)
                    status, headers, payload = fault_response(fault, model)
                    self.send_json(status, payload, headers)
                elif stream:
                    self.send_sse(sse_events(body, answer))
                else:
                    item = output_item(answer)
                    response_id = f"resp_{uuid.uuid4().hex[:24]}"
                    self.send_json(200, response_object(body, [item], "completed", response_id))

        return Handler


def _not_found(path: str) -> dict[str, Any]:
    error = {"message": f"no route {path}", "type": "invalid_request_error", "code": None}
    return {"error": {**error, "param": None}}


if __name__ == "__main__":  # python3 tests/fake_openai.py [PORT [LIFETIME_S]]
    args = [float(a) for a in sys.argv[1:3]] + [0.0, 600.0][len(sys.argv) - 1 :]
    plan = FaultPlan.parse(os.environ.get("FAKE_API_FAULTS", ""))
    with FakeOpenAI(port=int(args[0]), lifetime=args[1], max_requests=2000, faults=plan) as served:
        print(f"OPENAI_BASE_URL={served.base_url}", flush=True)
        served.wait_closed(args[1] + 5)
