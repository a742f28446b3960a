"""A filtering HTTP proxy on a Unix socket, for an agent run under bubblewrap directly (launch.py):
a CONNECT to an allowed host:port is tunnelled, a plain-HTTP request in absolute form to an allowed
host is forwarded, everything else gets 403. Allowed: `host`, `host:port` or `*.domain` (any
subdomain). Standard library only: it starts inside the agent's launcher, per launch."""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

_FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"


def _split(rule: str) -> tuple[str, str]:
    """(host, port or "") of `host`, `host:port`, `[v6]` or `[v6]:port`."""
    if rule.startswith("["):
        host, _, rest = rule[1:].partition("]")
        return host, rest.lstrip(":")
    if rule.count(":") == 1:
        host, _, port = rule.partition(":")
        return host, port
    return rule, ""


def allowed(rules: Iterable[str], host: str, port: int) -> bool:
    host = host.strip("[]").lower()
    for rule in rules:
        name, rule_port = _split(rule.lower())
        if rule_port and rule_port != str(port):
            continue
        if name == host or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return False


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes."""
    pair = {a: b, b: a}
    try:
        while True:
            ready, _, _ = select.select(list(pair), [], [], 300)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                pair[sock].sendall(data)
    except OSError:
        return


def _one_request(rest: bytes) -> bytes:
    """A plain-HTTP request's headers (and body start) with `Connection: close`: the next request
    comes on a new connection, so each is checked (a kept-alive one would pass unread)."""
    headers, _, body = rest.partition(b"\r\n\r\n")
    hop = (b"connection:", b"proxy-connection:", b"keep-alive:")
    kept = [h for h in headers.split(b"\r\n") if h and not h.lower().startswith(hop)]
    return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n" + body


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(65536)
            if not chunk:
                return
            head += chunk
        line, _, rest = head.partition(b"\r\n")
        try:
            method, target, version = line.decode("latin-1").split(" ", 2)
        except ValueError:
            client.sendall(_FORBIDDEN)
            return
        if method.upper() == "CONNECT":
            host, _, port_text = target.rpartition(":")
            port = int(port_text) if port_text.isdigit() else 443
            first = rest.partition(b"\r\n\r\n")[2]
        else:
            url = urlsplit(target)
            host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            first = f"{method} {path} {version}\r\n".encode("latin-1") + _one_request(rest)
        if not host or not allowed(self.server.rules, host, port):
            client.sendall(_FORBIDDEN)
            return
        try:
            upstream = socket.create_connection((host.strip("[]"), port), timeout=30)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        with upstream:
            upstream.settimeout(None)
            if method.upper() == "CONNECT":
                client.sendall(_ESTABLISHED)
            if first:
                upstream.sendall(first)
            _relay(client, upstream)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    rules: tuple[str, ...] = ()


def start(path: str, rules: Iterable[str]) -> _Server:
    """Serve on the Unix socket `path` in a daemon thread; `shutdown()` stops it."""
    server = _Server(path, _Handler)
    server.rules = tuple(rules)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
