"""Telling a request from this machine, for what only this machine may see
(the development outbox, the details of ``/readyz``).

A request is local when all three hold:

* it came from a loopback address,
* straight to the server: it carries no forwarding header, since a reverse
  proxy on this machine would make every visitor look local, and
* it names a loopback host in its ``Host`` header (``localhost``,
  ``127.0.0.1`` or ``[::1]``, any port). A web page can point a name of its
  own at 127.0.0.1 (DNS rebinding) and have the visitor's browser read
  ``http://its-name:port/outbox``: such a request comes from a loopback
  address, but carries the page's name as its ``Host``.
"""

from __future__ import annotations

import ipaddress
import re

from starlette.requests import Request

from pushgate.security.proxy import request_view

FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")

_HOST = re.compile(r"(\[[^\]]*\]|[^:\[\]]*)(?::[0-9]{1,5})?")


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is a loopback IP address (not a name)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def names_loopback(host_header: str | None) -> bool:
    """Whether a ``Host`` header names this machine: ``localhost``,
    ``127.0.0.1`` or ``[::1]``, with or without a port."""
    match = _HOST.fullmatch((host_header or "").strip().lower())
    return match is not None and match.group(1) in LOOPBACK_HOSTS


def refusal(request: Request) -> str | None:
    """Why ``request`` is not from this machine, or ``None`` when it is."""
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return "forwarded"
    if not is_loopback(request_view(request).address):
        return "remote"
    if not names_loopback(request.headers.get("host")):
        return "host"
    return None
