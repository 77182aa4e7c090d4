"""Forwarding headers are believed only from trusted proxies."""

from __future__ import annotations

import pytest

from pushgate.security.proxy import TrustedProxies, client_view


def scope(peer: str, headers: dict[str, str], scheme: str = "http") -> dict:
    return {
        "type": "http",
        "scheme": scheme,
        "client": (peer, 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


FORWARDED = {
    "host": "internal:8000",
    "x-forwarded-for": "203.0.113.9, 10.0.0.2",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "login.example.com",
}


def test_untrusted_peer_forwarding_headers_are_ignored() -> None:
    view = client_view(scope("198.51.100.7", FORWARDED), TrustedProxies(""))
    assert view.address == "198.51.100.7"
    assert view.scheme == "http"
    assert view.url("/authy/callback") == "http://internal:8000/authy/callback"


def test_trusted_proxy_gives_client_scheme_and_host() -> None:
    trusted = TrustedProxies("10.0.0.0/8")
    view = client_view(scope("10.0.0.1", FORWARDED), trusted)
    # 10.0.0.2 is a trusted hop too, so the client is the address before it.
    assert view.address == "203.0.113.9"
    assert view.url("/authy/callback") == "https://login.example.com/authy/callback"


def test_client_cannot_prepend_a_fake_address_through_a_trusted_proxy() -> None:
    headers = dict(FORWARDED, **{"x-forwarded-for": "1.2.3.4, 203.0.113.9"})
    view = client_view(scope("10.0.0.1", headers), TrustedProxies("10.0.0.1"))
    assert view.address == "203.0.113.9"


def test_garbage_forwarded_values_fall_back() -> None:
    headers = {
        "host": "site:80",
        "x-forwarded-for": "not-an-ip",
        "x-forwarded-proto": "gopher",
        "x-forwarded-host": "evil.example/<script>",
    }
    view = client_view(scope("127.0.0.1", headers), TrustedProxies("127.0.0.1"))
    assert (view.address, view.scheme, view.host) == ("127.0.0.1", "http", "site:80")


def test_ipv6_proxies_and_scheme_of_direct_tls() -> None:
    trusted = TrustedProxies("::1, 127.0.0.1")
    view = client_view(scope("::1", {"x-forwarded-for": "2001:db8::5"}), trusted)
    assert view.address == "2001:db8::5"
    direct = client_view(scope("192.0.2.1", {"host": "a:1"}, scheme="https"), trusted)
    assert direct.scheme == "https"


def test_bad_setting_names_the_entry_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'.*networks like"):
        TrustedProxies("127.0.0.1, 10.0.0.0/33")
