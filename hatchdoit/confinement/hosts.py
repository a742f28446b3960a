"""The hosts a confined process may reach: a provider's (API, OAuth refresh, subscription login),
a configured base URL's, and the package registries."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

PROVIDER_HOSTS: dict[str, tuple[str, ...]] = {
    # API; OAuth refresh and the subscription login (Claude Pro/Max, `claude setup-token`)
    "anthropic": (
        "api.anthropic.com", "console.anthropic.com", "claude.ai", "platform.claude.com",
        "statsig.anthropic.com",
    ),
    # API; the ChatGPT login and its token refresh
    "openai": ("api.openai.com", "auth.openai.com", "chatgpt.com", "*.chatgpt.com"),
}  # fmt: skip
# Variables that point a CLI at another endpoint: their hosts are allowed too.
BASE_URL_VARS = (
    "ANTHROPIC_BASE_URL", "ANTHROPIC_BEDROCK_BASE_URL", "ANTHROPIC_VERTEX_BASE_URL",
    "OPENAI_BASE_URL", "OPENAI_API_BASE", "CODEX_BASE_URL",
)  # fmt: skip
REGISTRY_HOSTS = (
    "pypi.org", "files.pythonhosted.org", "registry.npmjs.org", "registry.yarnpkg.com",
    "crates.io", "index.crates.io", "static.crates.io", "proxy.golang.org", "sum.golang.org",
    "rubygems.org", "repo.maven.apache.org", "repo1.maven.org",
)  # fmt: skip


def registry_hosts() -> list[str]:
    return list(REGISTRY_HOSTS)


def url_host(url: str) -> str | None:
    """`host` of a URL, `host:port` when it has a port, or an IP literal with its port (the
    sandbox's proxy reaches a loopback address only as a listed literal with its port)."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and literal.version == 6:
        host = f"[{host}]"
    if port is None and (literal is not None or host == "localhost"):
        port = 443 if parts.scheme == "https" else 80
    return f"{host}:{port}" if port is not None else host


def agent_hosts(
    provider: str | None, env: Mapping[str, str], base_urls: Iterable[str] = ()
) -> list[str]:
    """The hosts of `provider`, of every base URL set in `env` and of `base_urls` (those a
    CLI's own configuration names)."""
    hosts = list(PROVIDER_HOSTS.get(provider or "", ()))
    for url in [*(env.get(name, "") for name in BASE_URL_VARS), *base_urls]:
        host = url_host(url)
        if host is not None:
            hosts.append(host)
            if host.startswith("localhost:"):
                hosts.append("127.0.0.1:" + host.split(":", 1)[1])
    return hosts
