"""The filtering proxy a directly-confined agent's launcher starts (confinement/proxy.py): an
allowed host:port is tunnelled or forwarded, anything else gets 403 and is never connected to;
each plain-HTTP request is checked (no keep-alive past the check)."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from confinement_support import need_srt

from hatchdoit.confinement import direct
from hatchdoit.confinement.policy import Policy
from hatchdoit.confinement.proxy import allowed, start
from hatchdoit.confinement.srt import SRT_ENV


class Origin:
    """A TCP server on 127.0.0.1 that answers every request with its own name."""

    def __init__(self, name: str) -> None:
        self.name, self.hits = name, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                self.hits += 1
                data = conn.recv(65536)
                body = self.name.encode() + b" " + data.split(b"\r\n", 1)[0]
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                conn.sendall(head + body)


@pytest.fixture
def origins() -> Iterator[tuple[Origin, Origin]]:
    made = Origin("allowed"), Origin("other")
    yield made
    for origin in made:
        origin.server.close()


def _ask(sock_path: Path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(str(sock_path))
        client.sendall(request)
        out = b""
        while chunk := client.recv(65536):
            out += chunk
            if out.startswith(b"HTTP/1.1 200 Connection") and out.endswith(b"\r\n\r\n"):
                break
        return out


def test_rules() -> None:
    rules = ["api.anthropic.com", "*.openai.com", "127.0.0.1:8080", "[::1]:9"]
    assert allowed(rules, "api.anthropic.com", 443)
    assert allowed(rules, "auth.openai.com", 443) and not allowed(rules, "openai.com.evil", 443)
    assert allowed(rules, "127.0.0.1", 8080) and not allowed(rules, "127.0.0.1", 8081)
    assert allowed(rules, "[::1]", 9) and not allowed(rules, "example.com", 443)


def test_only_the_allowed_origin_is_reached(tmp_path: Path, origins: tuple[Origin, Origin]) -> None:
    good, other = origins
    sock = tmp_path / "p.sock"
    server = start(str(sock), [f"127.0.0.1:{good.port}"])
    try:
        get = f"GET http://127.0.0.1:{good.port}/v1/x?q=1 HTTP/1.1\r\nHost: h\r\n"
        answer = _ask(sock, (get + "Connection: keep-alive\r\n\r\n").encode())
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"allowed GET /v1/x?q=1" in answer
        tunnel = f"CONNECT 127.0.0.1:{good.port} HTTP/1.1\r\n\r\n".encode()
        assert _ask(sock, tunnel).startswith(b"HTTP/1.1 200 Connection Established")
        for request in (
            f"GET http://127.0.0.1:{other.port}/ HTTP/1.1\r\n\r\n",
            f"CONNECT 127.0.0.1:{other.port} HTTP/1.1\r\n\r\n",
            "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
        ):
            assert _ask(sock, request.encode()).startswith(b"HTTP/1.1 403"), request
        assert other.hits == 0 and good.hits == 2
    finally:
        server.shutdown()
        server.server_close()


def test_an_agent_falls_back_to_srt_without_socat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """direct.py's prefix needs socat for the bridge: without it, None (srt is used then)."""
    monkeypatch.setenv(SRT_ENV, str(need_srt()))
    policy = Policy(workspace=tmp_path / "ws", temp_dir=tmp_path / "tmp", hosts=("example.com",))
    spec = tmp_path / "spec.json"
    prefix = direct.agent_prefix(policy, {}, spec)
    assert prefix is not None and prefix[-1] == str(spec)
    which = shutil.which
    monkeypatch.setattr(direct.shutil, "which", lambda n: None if n == "socat" else which(n))
    assert direct.agent_prefix(policy, {}, tmp_path / "spec2.json") is None
