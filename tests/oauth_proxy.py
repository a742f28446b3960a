"""A stand-in of Claude Code's OAuth token endpoint at its real address, for tests that make the
real CLI refresh a subscription login offline.

Claude Code 2.1.330 refreshes at `https://platform.claude.com/v1/oauth/token` and cannot be
pointed elsewhere (CLAUDE_CODE_CUSTOM_OAUTH_URL accepts only Anthropic's own hosts), but it
honours HTTPS_PROXY and NODE_EXTRA_CA_CERTS. So this is an HTTPS proxy on 127.0.0.1 that
answers a CONNECT to that one host itself, with a certificate of a test CA made here by
`openssl` (the CA goes into NODE_EXTRA_CA_CERTS), and refuses every other host. What it answers
is the stand-in account's (tests/login_standins.py `Tokens`): a rotated pair, or invalid_grant.
"""

from __future__ import annotations

import json
import shutil
import socketserver
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from login_standins import Tokens, _form_or_json

HOST = "platform.claude.com"


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for HOST signed by it: (ca.pem, host.pem, host.key)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test CA")
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key = directory / "host.pem", directory / "host.key"
    request, extensions = directory / "host.csr", directory / "host.ext"
    extensions.write_text(
        f"subjectAltName=DNS:{HOST}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    for argv in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=hatchdoit test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
         "-subj", f"/CN={HOST}"],
        ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", extensions],
    ):  # fmt: skip
        subprocess.run(["openssl", *map(str, argv)], check=True, capture_output=True, timeout=60)
    return ca, cert, key


class _TokenEndpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OAuthProxy  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = _form_or_json(self)
        self.server.asked.append(self.path)
        pair = self.server.tokens.trade(str(body.get("refresh_token", "")))
        if pair is None:
            status, answer = 400, {"error": "invalid_grant"}
        else:
            status = 200
            answer = {"access_token": pair[0], "refresh_token": pair[1], "expires_in": 3600,
                      "token_type": "Bearer", "scope": "user:inference user:profile"}  # fmt: skip
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Connect(socketserver.StreamRequestHandler):
    server: OAuthProxy  # type: ignore[assignment]

    def handle(self) -> None:
        line = self.rfile.readline().decode("latin-1")
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        method, target = [*line.split(" "), "", ""][:2]
        self.server.connects.append(target)
        if method != "CONNECT" or target != f"{HOST}:443":
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        secure = self.server.context.wrap_socket(self.connection, server_side=True)
        _TokenEndpoint(secure, self.client_address, self.server)  # type: ignore[arg-type]


class OAuthProxy(socketserver.ThreadingTCPServer):
    """The proxy; use as a context manager. `url` goes into HTTPS_PROXY; `asked` lists the token
    requests it answered, `connects` every CONNECT target it saw."""

    daemon_threads = True

    def __init__(self, tokens: Tokens, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Connect)
        self.tokens = tokens
        self.asked: list[str] = []
        self.connects: list[str] = []
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
        self.server_close()
