"""Arbitrary text (NUL, controls, unpaired surrogates, other scripts' digits)
never gets past the service's parameters to PostgreSQL: a 400, never a 500."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from pushgate import safe_json
from pushgate.service import params
from pushgate.service.errors import ApiError
from tests.service.conftest import ServiceClient

#: Every code point, surrogates included, and the troublemakers more often.
CHARACTERS = (
    st.characters(exclude_categories=())
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    | st.sampled_from("\x00\x01\x1f\x7f\x85\u2028\ufeff\u0661\u0662\u0663")
)
TEXT = st.text(CHARACTERS, max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3)
    ),
    max_leaves=8,
)
NAMES = st.sampled_from(
    ["user", "message", "details", "hidden_details", "via", "action", "force"]
)
FIELDS = st.dictionaries(NAMES | TEXT, JSON_VALUES, max_size=5)


def _encoded(text: str) -> str:
    """Percent-encoded as a client would send it; a lone surrogate becomes
    the bytes it would have in UTF-8 (which are not valid UTF-8)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _form(fields: dict[str, Any]) -> bytes:
    pairs = [f"{_encoded(k)}={_encoded(str(v))}" for k, v in fields.items()]
    return "&".join(pairs).encode()


def _request(query: bytes, body: bytes, content_type: str) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": query,
        "headers": [(b"content-type", content_type.encode())],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def _storable(value: Any) -> None:
    """What PostgreSQL would be given: UTF-8 text without NUL."""
    encoded = json.dumps(value, ensure_ascii=False).encode("utf-8")
    assert b"\x00" not in encoded
    assert safe_json.find_bad_text(value) is None


def _read(query: bytes, body: bytes, content_type: str) -> dict[str, Any] | None:
    try:
        return asyncio.run(params.read_params(_request(query, body, content_type)))
    except ApiError as refused:
        assert refused.status_code in (400, 413)
        assert refused.body()["success"] is False
        return None


@settings(max_examples=300, deadline=None, derandomize=True)
@given(query=FIELDS, body=FIELDS, as_form=st.booleans())
def test_the_parameter_parser_passes_only_storable_text(
    query: dict[str, Any], body: dict[str, Any], as_form: bool
) -> None:
    raw = _form(body) if as_form else json.dumps(body).encode()
    content_type = (
        "application/x-www-form-urlencoded" if as_form else "application/json"
    )

    read = _read(_form(query), raw, content_type)

    if read is None:
        return
    _storable(read)
    # The typed readers refuse what they cannot use, and nothing else happens.
    for name in ("message", "via", "action"):
        try:
            _storable(params.text(read, name, required=False))
        except ApiError as refused:
            assert refused.status_code == 400
    for name in ("details", "hidden_details"):
        try:
            _storable(params.mapping(read, name))
        except ApiError as refused:
            assert refused.status_code == 400


@settings(max_examples=300, deadline=None, derandomize=True)
@given(raw=TEXT)
def test_path_segments_are_ids_or_refusals(raw: str) -> None:
    try:
        number = params.user_id(raw)
    except ApiError as refused:
        assert refused.status_code in (400, 404)
    else:
        assert raw.isascii() and number > 0
    try:
        _storable(params.path_text("uuid", raw))
    except ApiError as refused:
        assert refused.status_code == 400


@pytest.mark.parametrize(
    "raw", ["a\x00b", "\x00", "x\x1fy", "\ud800", "a\x7f", "\x85"], ids=repr
)
def test_a_control_character_or_lone_surrogate_names_the_parameter(raw: str) -> None:
    bodies = [(json.dumps({"user": {"email": raw}}).encode(), "application/json")]
    if raw != "\ud800":
        # (In a form a lone surrogate is bytes that are not UTF-8, read as
        # U+FFFD, which is ordinary text.)
        form = f"user[email]={_encoded(raw)}".encode()
        bodies.append((form, "application/x-www-form-urlencoded"))
    for body, content_type in bodies:
        request = _request(b"", body, content_type)
        with pytest.raises(ApiError) as refused:
            asyncio.run(params.read_params(request))
        assert refused.value.status_code == 400
        body_sent = refused.value.body()
        assert body_sent["error_code"] == "60004"
        assert "user.email" in body_sent["errors"]


# --- the same over HTTP, against the live server --------------------------------

ENDPOINT_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def _json_bytes(value: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as \\udXXX, as a hostile client can.
    return json.dumps(value, ensure_ascii=True).encode()


@pytest.fixture
def hostile(service_app: ServiceClient) -> tuple[ServiceClient, int]:
    return service_app, service_app.create_user()


@ENDPOINT_SETTINGS
@given(email=TEXT, other=TEXT, hostile_field=st.sampled_from(["email", "cellphone"]))
def test_users_new_never_fails(hostile, email: str, other: str, hostile_field) -> None:
    app, _ = hostile
    user = {
        "email": f"{email}@example.com",
        "cellphone": f"555{secrets.randbelow(10**7):07d}",
        "country_code": "1",
    }
    if hostile_field == "cellphone":
        user["cellphone"] = other
    response = app.client.post(
        "/protected/json/users/new",
        content=_json_bytes({"user": user}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (200, 400), response.text


@ENDPOINT_SETTINGS
@given(message=TEXT, details=st.dictionaries(TEXT, TEXT, max_size=3), key=TEXT)
def test_approval_requests_never_fail(
    hostile, message: str, details: dict[str, str], key: str
) -> None:
    app, _ = hostile
    # A user of its own each time, so the push rate per user never answers first.
    user_id = app.create_user()
    body = {"message": message or "x", "details": details, "hidden_details": {key: 1}}
    response = app.client.post(
        f"/onetouch/json/users/{user_id}/approval_requests",
        content=_json_bytes(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (200, 400), response.text


@ENDPOINT_SETTINGS
@given(segment=TEXT.filter(lambda text: text not in ("", ".", "..")))
def test_path_segments_never_fail(hostile, segment: str) -> None:
    app, user_id = hostile
    encoded = _encoded(segment)
    for method, path in (
        ("GET", f"/onetouch/json/approval_requests/{encoded}"),
        ("POST", f"/protected/json/users/{user_id}/devices/{encoded}/remove"),
        ("GET", f"/protected/json/users/{encoded}/status"),
        ("GET", f"/protected/json/verify/{encoded}/{user_id}"),
    ):
        response = app.client.request(method, path)
        assert response.status_code < 500, (path, response.text)


@ENDPOINT_SETTINGS
@given(value=TEXT)
def test_query_strings_never_fail(hostile, value: str) -> None:
    app, user_id = hostile
    encoded = _encoded(value)
    for path in (
        f"/protected/json/phones/info?phone_number={encoded}&country_code=1",
        "/protected/json/phones/verification/check?phone_number=2025550100"
        f"&country_code=1&verification_code={encoded}",
        f"/protected/json/sms/{user_id}?action={encoded}&force=true",
        f"/outbox?to={encoded}",
    ):
        response = app.client.get(path)
        assert response.status_code < 500, (path, response.text)


def test_a_nul_anywhere_is_a_400_naming_the_field(hostile) -> None:
    app, user_id = hostile
    number = f"555{secrets.randbelow(10**7):07d}"
    cases = [
        (
            "POST",
            "/protected/json/users/new",
            {"user": {"email": "a\x00@example.com", "cellphone": number}},
            "user.email",
        ),
        (
            "POST",
            f"/onetouch/json/users/{user_id}/approval_requests",
            {"message": "a\x00b"},
            "message",
        ),
        (
            "POST",
            f"/onetouch/json/users/{user_id}/approval_requests",
            {"message": "x", "details": {"a\x00": "b"}},
            "details.a\\u0000",
        ),
        ("GET", "/onetouch/json/approval_requests/a%00b", None, "uuid"),
        (
            "POST",
            f"/protected/json/users/{user_id}/devices/%00/remove",
            None,
            "device_id",
        ),
    ]
    for method, path, body, field in cases:
        response = app.client.request(
            method, path, content=None if body is None else _json_bytes(body)
        )
        assert response.status_code == 400, (path, response.text)
        answer = response.json()
        assert answer["success"] is False
        assert field in answer["errors"], answer
        assert "NUL" in answer["message"]


@pytest.mark.parametrize("to", ["%00", "12%0034", "+1 202", "%F0%9F%98%80"])
def test_outbox_refuses_a_to_that_is_no_number(live_server, to: str) -> None:
    response = httpx.get(f"{live_server.base_url}/outbox?to={to}")

    assert response.status_code == 400
    assert "must be a phone number such as +12025550100" in response.text
