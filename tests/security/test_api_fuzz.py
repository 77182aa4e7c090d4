"""Property-based fuzzing of every JSON endpoint from the OpenAPI document.

schemathesis takes the application's OpenAPI document (the one served at
``/openapi.json``, which a test checks) and sends each operation a bounded
number of generated requests over HTTP to a live server, with a valid API
key so the code behind the key check runs too. No answer may be a server
error, and every documented response must match its schema.

The document is built when the module loads, since schemathesis makes its
tests at collection time (its fixture-based loader does not work with this
pytest); building it needs no database.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from pushgate.app import create_app
from pushgate.service.apps import create_application
from tests.conftest import make_settings

#: Examples per operation: enough to find a crash, few enough for CI.
EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_key(secure_server) -> str:
    async def create() -> str:
        runtime = secure_server.runtime
        async with runtime.sessions.begin() as session:
            _, key = await create_application(
                session, runtime.settings.resolved_secret_key(), "fuzzing", None
            )
        return key

    return secure_server.call(create)


def _document() -> dict:
    settings = make_settings(Path(tempfile.gettempdir()))
    return create_app(settings, "postgresql://unused/unused").openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_document_describes_every_json_endpoint(secure_server) -> None:
    served = httpx.get(secure_server.base_url + "/openapi.json").json()
    assert served == DOCUMENT
    paths = set(served["paths"])
    for expected in (
        "/protected/json/users/new",
        "/onetouch/json/users/{user_id}/approval_requests",
        "/onetouch/json/approval_requests/{uuid}",
        "/protected/json/users/{user_id}/devices",
        "/protected/json/users/{user_id}/security_events",
        "/authenticator/api/answers",
    ):
        assert expected in paths
    # Pages are HTML, not part of the API.
    assert "/login" not in paths and "/account" not in paths


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_responses_match_the_schema(
    case, fuzz_key, secure_server
) -> None:
    case.call_and_validate(
        base_url=secure_server.base_url,
        headers={"X-Authy-API-Key": fuzz_key},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=15,
    )


# Most of the Authy-compatible calls read their parameters themselves (JSON
# or form, as Authy's clients sent either), so the document has no request
# body for schemathesis to vary; these properties send arbitrary JSON bodies
# and path values to every operation instead.

OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method in operations
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
PARAMETERS = (
    "user",
    "message",
    "details",
    "hidden_details",
    "logos",
    "seconds_to_expire",
    "via",
    "phone_number",
    "country_code",
    "verification_code",
    "force",
    "token",
    "uuid",
    "status",
)
BODIES = st.dictionaries(
    st.sampled_from(PARAMETERS) | st.text(max_size=12), JSON_VALUES, max_size=6
)
PATH_VALUES = st.text(min_size=1, max_size=20).map(
    lambda text: quote(text, safe="")
) | st.integers(min_value=-5, max_value=10**12).map(str)


@pytest.fixture(scope="module")
def fuzz_client(secure_server, fuzz_key) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=secure_server.base_url,
        headers={"X-Authy-API-Key": fuzz_key},
        timeout=15,
    ) as client:
        yield client


@pytest.mark.parametrize(("method", "template"), OPERATIONS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@given(body=BODIES, values=st.lists(PATH_VALUES, min_size=3, max_size=3))
def test_arbitrary_bodies_cause_no_server_errors(
    fuzz_client, method: str, template: str, body: dict, values: list[str]
) -> None:
    fill = iter(values)
    path = re.sub(r"\{\w+\}", lambda _: next(fill), template)
    if path.endswith("/events"):
        # An event stream: only its opening answer matters here.
        with fuzz_client.stream(method, path, json=body) as response:
            assert response.status_code < 500
        return
    response = fuzz_client.request(method, path, json=body)
    assert response.status_code < 500, (method, path, body, response.text[:300])
