"""A local stand-in of the Anthropic Messages API, for running the real Claude Code CLI offline.

Serves `POST /v1/messages` (streamed SSE or plain JSON) and `/v1/messages/count_tokens` on
127.0.0.1 only, answers anything else with a JSON 404, and shuts itself down after `max_requests`
requests or `lifetime` seconds. The "model" is a script driven by the conversation itself, so any
number of sessions can share one server and a retried request gets the same answer:

- a request whose tools include `Write` is a main-agent turn. The factory prompt plans one `Write`
  per ```` ```file:PATH ```` block of the TaskSpec body, a `Bash` commit and a `Write` of the
  summary JSON to the path the prompt names; the QA prompt plans a `Write` of an approving
  verdict. Each turn makes the next planned call (counted from the history), then a short text.
- TaskSpec markers: `fake-api: skip-summary` leaves the summary out until a user message asks for
  it (a Stop hook's block reason or the summary injection, which name the path);
  `fake-api: overloaded` / `fake-api: error-500` fail every main-agent request with 529 / 500.
- any other request (title generation, quota probes, ...) gets a short text answer.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

FILE_BLOCK = re.compile(r"^(`{3,})file:(\S+)[ \t]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
SUMMARY_PATH = re.compile(r"summary as JSON to\s+`([^`]+)`")
SUMMARY_REQUEST = re.compile(r"(?:summary|Summary)[^`]{0,200}?`([^`]+\.json)`")
VERDICT_PATH = re.compile(r"verdict as JSON to\s+`([^`]+)`")
TASKSPEC_ID = re.compile(r"TaskSpec (\S+?):")
ATTEMPT = re.compile(r"[Aa]ttempt (\d+)")
LOC_CAP = re.compile(r"at most (\d+) lines")
SUMMARY_ASKED = ("hatchdoit-summary-required", "Create the implementation summary")


@dataclass
class Action:
    tool: str
    params: dict[str, Any]


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


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            out.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            out.extend(_texts(block.get("content", "")))
    return out


def _user_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [t for m in messages if m.get("role") == "user" for t in _texts(m.get("content"))]


def _tool_calls(messages: list[dict[str, Any]]) -> int:
    return sum(
        1
        for m in messages
        if m.get("role") == "assistant" and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_use"
    )


def _first(pattern: re.Pattern[str], text: str, default: str = "") -> str:
    found = pattern.search(text)
    return found.group(1) if found else default


def _summary(prompt: str, files: list[tuple[str, str]]) -> str:
    loc = sum(content.count("\n") for _, content in files)
    record = {
        "taskspec_id": _first(TASKSPEC_ID, prompt),
        "agent_type": "factory",
        "iteration": int(_first(ATTEMPT, prompt, "1")),
        "status": "completed",
        "implementation_files": [path for path, _ in files],
        "test_results": {"passed": len(files), "failed": 0},
        "loc_analysis": {"actual": loc, "cap": int(_first(LOC_CAP, prompt, "0"))},
        "next_steps": [],
        "handover_notes": "Written by the fake Messages API (tests/fake_anthropic.py).",
    }
    return json.dumps(record, indent=2) + "\n"


def plan(messages: list[dict[str, Any]]) -> tuple[str, list[Action]]:
    """(role, the tool calls this conversation should make, in order)."""
    texts = _user_texts(messages)
    joined = "\n".join(texts)
    if "You are the QA agent" in joined:
        verdict = {
            "taskspec_id": _first(TASKSPEC_ID, joined),
            "attempt": int(_first(ATTEMPT, joined, "1")),
            "verdict": "approved",
            "reasons": ["the fake model approves"],
            "feedback": "",
        }
        path = _first(VERDICT_PATH, joined)
        return "qa", [Action("Write", {"file_path": path, "content": json.dumps(verdict) + "\n"})]
    if "You are the factory agent" not in joined:
        return "other", []
    prompt = next(t for t in texts if "You are the factory agent" in t)
    files = [(m.group(2), m.group(3)) for m in FILE_BLOCK.finditer(prompt)]
    actions = [Action("Write", {"file_path": path, "content": body}) for path, body in files]
    tid = _first(TASKSPEC_ID, prompt)
    commit = f"git add -A && git commit -q -m 'fake model: {tid}'"
    actions.append(Action("Bash", {"command": commit, "description": "Commit the work"}))
    summary = _summary(prompt, files)
    if "fake-api: skip-summary" not in prompt:
        actions.append(
            Action("Write", {"file_path": _first(SUMMARY_PATH, prompt), "content": summary})
        )
    for text in texts:
        if any(marker in text for marker in SUMMARY_ASKED):
            path = _first(SUMMARY_REQUEST, text) or _first(SUMMARY_PATH, prompt)
            actions.append(Action("Write", {"file_path": path, "content": summary}))
    return "factory", actions


def error_for(messages: list[dict[str, Any]]) -> tuple[int, str] | None:
    joined = "\n".join(_user_texts(messages))
    if "fake-api: overloaded" in joined:
        return 529, "overloaded_error"
    if "fake-api: error-500" in joined:
        return 500, "api_error"
    return None


@dataclass
class Reply:
    text: str = ""
    tool: Action | None = None
    stop_reason: str = "end_turn"
    summary_asked: bool = False


def decide(body: dict[str, Any]) -> tuple[str, Reply]:
    """The role and the reply for one /v1/messages request."""
    messages = body.get("messages") or []
    tool_names = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    if "Write" not in tool_names:
        return "side", Reply(text="Fake title")
    role, actions = plan(messages)
    done = _tool_calls(messages)
    asked = any(m in text for text in _user_texts(messages) for m in SUMMARY_ASKED)
    if done < len(actions):
        return role, Reply(tool=actions[done], stop_reason="tool_use", summary_asked=asked)
    return role, Reply(text=f"Done ({role}).", summary_asked=asked)


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
