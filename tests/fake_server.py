"""The HTTP plumbing the provider stand-ins share (tests/fake_anthropic.py, tests/fake_openai.py):
a threaded server on 127.0.0.1 only, in a daemon thread, that records every request it saw and
shuts itself down after `max_requests` requests or `lifetime` seconds, so a test that forgets it
cannot leave a server behind. Subclasses give the request handler (the provider's wire format).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

S = TypeVar("S")


class LocalServer(Generic[S]):
    """A stand-in server; use as a context manager. `seen` holds one record per request."""

    def __init__(self, *, max_requests: int, lifetime: float, port: int) -> None:
        self.max_requests = max_requests
        self.lifetime = lifetime
        self.seen: list[S] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True
        self._closed = False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
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

    def record(self, seen: S) -> bool:
        """Remember a request; False once the request budget is spent (the server then closes)."""
        with self._lock:
            self.seen.append(seen)
            over = len(self.seen) > self.max_requests
        if over:
            threading.Thread(target=self.close, daemon=True).start()
        return not over


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler with the JSON and SSE helpers both stand-ins need."""

    protocol_version = "HTTP/1.1"
    request_id_header = "request-id"

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep pytest output clean; the server's `seen` has the record

    def body_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header(self.request_id_header, f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, events: list[tuple[str, dict[str, Any]]], *, cut_after: int = -1) -> None:
        """Stream `events` as one SSE response; with `cut_after` >= 0, send only that many events
        and drop the connection (a stream that breaks mid-answer)."""
        chunks = [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header(self.request_id_header, f"req_{uuid.uuid4().hex[:16]}")
        if cut_after < 0:
            payload = b"".join(chunks)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks[:cut_after]:
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.flush()
        self.drop()

    def drop(self) -> None:
        """Close the connection without (the rest of) a response."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(2)  # socket.SHUT_RDWR
        except OSError:
            pass
