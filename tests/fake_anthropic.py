"""A local stand-in of the Anthropic Messages API, for running the real Claude Code CLI offline.

Serves `POST /v1/messages` (streamed SSE or plain JSON) and `/v1/messages/count_tokens` on
127.0.0.1 only, answers anything else with a JSON 404, and shuts itself down after `max_requests`
requests or `lifetime` seconds. What each request is answered is decided by the scripted "model"
in fake_anthropic_model.py, from the conversation alone; this module is the HTTP server and the
Messages API's wire format (SSE events, plain messages, errors), and records every request it
saw for the tests' assertions.

Run on its own:  python3 tests/fake_anthropic.py [PORT [LIFETIME_S]]
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from fake_anthropic_model import Reply, decide, error_for, first_user_texts


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


class FakeAnthropic:
    """The server; use as a context manager. `url` goes into ANTHROPIC_BASE_URL."""

    def __init__(self, *, max_requests: int = 400, lifetime: float = 300.0, port: int = 0) -> None:
        self.max_requests = max_requests
        self.lifetime = lifetime
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True
        self._closed = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_closed(self, timeout: float) -> bool:
        """Wait until the server has shut down by itself (budget or lifetime spent)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def record(self, seen: Seen) -> bool:
        """Remember a request; False once the request budget is spent (the server then closes)."""
        with self._lock:
            self.seen.append(seen)
            over = len(self.seen) > self.max_requests
        if over:
            threading.Thread(target=self.close, daemon=True).start()
        return not over

    def main_requests(self, role: str) -> list[Seen]:
        return [s for s in self.seen if s.kind == "main" and s.role == role]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep pytest output clean; `fake.seen` has the record

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:16]}")
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    data = json.loads(raw or b"{}")
                except ValueError:
                    return {}
                return data if isinstance(data, dict) else {}

            def do_GET(self) -> None:
                fake.record(Seen(self.path, "other", status=404))
                self._send_json(404, _error("not_found_error", f"no route {self.path}"))

            def do_POST(self) -> None:
                body = self._body()
                route = self.path.split("?", 1)[0]
                if route == "/v1/messages/count_tokens":
                    fake.record(Seen(self.path, "count_tokens"))
                    self._send_json(200, {"input_tokens": _usage(body, 0)["input_tokens"]})
                    return
                if route != "/v1/messages":
                    fake.record(Seen(self.path, "other", status=404))
                    self._send_json(404, _error("not_found_error", f"no route {self.path}"))
                    return
                role, reply = decide(body)
                stream = bool(body.get("stream"))
                failure = error_for(body.get("messages") or []) if role != "side" else None
                seen = Seen(
                    self.path,
                    "side" if role == "side" else "main",
                    role=role,
                    stream=stream,
                    status=failure[0] if failure else 200,
                    tool=reply.tool.tool if reply.tool else "",
                    summary_asked=reply.summary_asked,
                    asked=tuple(first_user_texts(body.get("messages") or []))
                    if role != "side"
                    else (),
                )
                if not fake.record(seen):
                    self._send_json(529, _error("overloaded_error", "fake API budget spent"))
                    return
                if failure is not None:
                    self._send_json(failure[0], _error(failure[1], "scripted failure"))
                elif stream:
                    self._stream(body, reply)
                else:
                    self._send_json(200, plain_message(body, reply))

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                chunks = [
                    f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                    for name, data in sse_events(body, reply)
                ]
                payload = b"".join(chunks)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:16]}")
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


if __name__ == "__main__":  # python3 tests/fake_anthropic.py [PORT [LIFETIME_S]]
    args = [float(a) for a in sys.argv[1:3]] + [0.0, 600.0][len(sys.argv) - 1 :]
    with FakeAnthropic(port=int(args[0]), lifetime=args[1], max_requests=2000) as served:
        print(f"ANTHROPIC_BASE_URL={served.url}", flush=True)
        served.wait_closed(args[1] + 5)
