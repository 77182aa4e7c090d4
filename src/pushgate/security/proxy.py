"""Who the client is and which URL it used, also behind a reverse proxy.

A proxy in front of pushgate terminates TLS and passes the original scheme,
host and client address in ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and
``X-Forwarded-For``. Anyone can send those headers, so they are believed only
when the connection comes from an address listed in ``trusted_proxies``.
Then the client is the rightmost address in ``X-Forwarded-For`` that is not a
trusted proxy itself, and the scheme and host are the rightmost values, the
ones the nearest proxy added.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from starlette.requests import Request
from starlette.types import Scope

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")


class TrustedProxies:
    """The addresses whose forwarding headers are believed."""

    def __init__(self, spec: str) -> None:
        self.networks: tuple[_Network, ...] = tuple(_parse(spec))

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def _parse(spec: str) -> Iterable[_Network]:
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            yield ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(
                f"PUSHGATE_TRUSTED_PROXIES entry {item!r} is not an address or "
                "network; write addresses like 10.0.0.5 or networks like "
                "10.0.0.0/8, separated by commas."
            ) from None


@dataclass(frozen=True, slots=True)
class ClientView:
    """The request as the client made it, before any proxy."""

    address: str
    scheme: str
    host: str

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}{path}"


def _header_values(scope: Scope, name: bytes) -> list[str]:
    values: list[str] = []
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            text = value.decode("latin-1")
            values.extend(part.strip() for part in text.split(","))
    return [value for value in values if value]


def client_view(scope: Scope, trusted: TrustedProxies) -> ClientView:
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    scheme = str(scope.get("scheme", "http"))
    hosts = _header_values(scope, b"host")
    host = hosts[-1] if hosts and _HOST.match(hosts[-1]) else _server_host(scope)
    if not trusted.trusts(peer):
        return ClientView(address=peer, scheme=scheme, host=host)

    address = peer
    for hop in reversed(_header_values(scope, b"x-forwarded-for")):
        if not _is_address(hop):
            break
        address = hop
        if not trusted.trusts(hop):
            break
    protos = _header_values(scope, b"x-forwarded-proto")
    if protos and protos[-1].lower() in ("http", "https"):
        scheme = protos[-1].lower()
    forwarded_hosts = _header_values(scope, b"x-forwarded-host")
    if forwarded_hosts and _HOST.match(forwarded_hosts[-1]):
        host = forwarded_hosts[-1]
    return ClientView(address=address, scheme=scheme, host=host)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=8)
def trusted_proxies(spec: str) -> TrustedProxies:
    return TrustedProxies(spec)


def request_view(request: Request) -> ClientView:
    """The client's address, scheme and host for a request to the app."""
    settings = request.app.state.runtime.settings
    return client_view(request.scope, trusted_proxies(settings.trusted_proxies))


def external_url(request: Request) -> str:
    """The URL the client requested, without its query (as callbacks sign it)."""
    return request_view(request).url(request.url.path)


def _server_host(scope: Scope) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server[0], server[1]
    return f"{host}:{port}" if port else str(host)
