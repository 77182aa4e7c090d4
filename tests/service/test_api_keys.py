"""Every API route refuses a request without the right key, in Authy's shape."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import httpx
import pytest

from pushgate.app import create_app
from tests.conftest import make_settings

_SAMPLE = {"user_id": "1", "uuid": "00000000-0000-0000-0000-000000000000"}


def _service_routes() -> list[tuple[str, str]]:
    """Every API route, from the application's own OpenAPI description."""
    settings = make_settings(Path(tempfile.gettempdir()))
    app = create_app(settings, "postgresql://unused/unused")
    routes = []
    for template, operations in app.openapi()["paths"].items():
        if not template.startswith(("/protected/", "/onetouch/")):
            continue
        path = re.sub(
            r"\{(\w+)\}", lambda m: _SAMPLE.get(m.group(1), "123456"), template
        )
        routes.extend((method.upper(), path) for method in operations)
    return sorted(set(routes))


ROUTES = _service_routes()


def test_the_route_list_covers_the_api() -> None:
    paths = {path for _, path in ROUTES}
    assert "/protected/json/users/new" in paths
    assert "/onetouch/json/approval_requests/" + _SAMPLE["uuid"] in paths
    assert len(ROUTES) >= 10


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("key", [None, "", "wrong-key", "x" * 500])
def test_missing_or_wrong_key_is_401(live_server, method, path, key) -> None:
    headers = {} if key is None else {"X-Authy-API-Key": key}

    response = httpx.request(
        method, live_server.base_url + path, headers=headers, json={}, timeout=10
    )

    assert response.status_code == 401, response.text
    assert response.json() == {
        "message": "Invalid API key",
        "success": False,
        "errors": {"message": "Invalid API key"},
        "error_code": "60001",
    }


def test_wrong_key_in_query_string_is_401(live_server) -> None:
    response = httpx.get(
        live_server.base_url + "/protected/json/app/details",
        params={"api_key": "wrong"},
    )

    assert response.status_code == 401
