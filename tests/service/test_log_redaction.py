"""What the logs never say: parameters of failed statements, data quoted in
exception messages, the arguments of jobs."""

from __future__ import annotations

import io
import logging
import re
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pushgate.db.engine import create_engine
from pushgate.service import log_redaction
from tests.service.conftest import ServiceClient
from tests.support.server import LiveServer

EMAIL = "ada.lovelace@example.com"


class Kept(logging.Handler):
    """Keeps each record, and its text as a plain formatter writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.records: list[logging.LogRecord] = []
        self.stream = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.stream.write(self.format(record) + "\n")

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def kept() -> Iterator[Kept]:
    log_redaction.install()
    handler = Kept()
    names = (*log_redaction.ERROR_LOGGERS, "procrastinate")
    targets = [logging.getLogger(name) for name in names]
    levels = [target.level for target in targets]
    for target in targets:
        target.addHandler(handler)
        target.setLevel(logging.INFO)
    yield handler
    for target, level in zip(targets, levels, strict=True):
        target.removeHandler(handler)
        target.setLevel(level)


async def _failed(database_url: str, statement: str, value: str) -> DBAPIError:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement), {"value": value})
    except DBAPIError as error:
        return error
    finally:
        await engine.dispose()
    raise AssertionError("the statement should have failed")


async def test_a_failed_statement_does_not_list_its_parameters(
    database_url: str,
) -> None:
    error = await _failed(database_url, "SELECT CAST(:value AS text)", f"{EMAIL}\x00")

    assert "NUL" in str(error)
    assert "SQL parameters hidden" in str(error)
    assert "ada" not in str(error)


async def test_a_logged_traceback_keeps_its_frames_but_not_quoted_data(
    database_url: str, kept: Kept
) -> None:
    # PostgreSQL's own message quotes the value it could not read.
    error = await _failed(database_url, "SELECT CAST(:value AS integer)", EMAIL)
    assert EMAIL in str(error)

    logging.getLogger("uvicorn.error").error(
        "Exception in ASGI application\n", exc_info=error
    )

    assert EMAIL not in kept.text
    assert "Exception in ASGI application" in kept.text
    assert "Traceback (most recent call last):" in kept.text
    assert "in _failed" in kept.text  # the frames are all there
    assert "sqlalchemy.exc.DataError: [message withheld" in kept.text
    assert "SQLSTATE 22P02" in kept.text
    assert "psycopg.errors.InvalidTextRepresentation" in kept.text
    assert "direct cause of the following exception" in kept.text


def test_exception_messages_are_withheld_but_connection_errors_kept() -> None:
    try:
        try:
            int(EMAIL)
        except ValueError as inner:
            raise ConnectionRefusedError(
                "connection to 127.0.0.1:5432 refused"
            ) from inner
    except ConnectionRefusedError as outer:
        written = log_redaction.withheld_traceback(outer)

    assert EMAIL not in written
    assert "ValueError: [message withheld: it may quote request data]" in written
    assert "ConnectionRefusedError: connection to 127.0.0.1:5432 refused" in written
    assert written.index("ValueError") < written.index("ConnectionRefusedError")


def test_groups_show_each_exception_withheld() -> None:
    try:
        raise ExceptionGroup("tasks", [KeyError(EMAIL), TimeoutError("slow")])
    except ExceptionGroup as group:
        written = log_redaction.withheld_traceback(group)

    assert EMAIL not in written
    assert "sub-exception 1:" in written and "KeyError: [message withheld" in written
    assert "TimeoutError: slow" in written


def test_job_lines_name_arguments_without_their_values() -> None:
    line = (
        "Job pushgate:send_phone_message[12](channel='sms', to='+12025550143', "
        "sealed_text='gAAAAB...') ended with status: Success, lasted 0.004 s"
    )

    assert log_redaction.hide_job_arguments(line) == (
        "Job pushgate:send_phone_message[12](channel=..., to=..., sealed_text=...) "
        "ended with status: Success, lasted 0.004 s"
    )
    assert (
        log_redaction.hide_job_arguments(
            "Starting job pushgate:deliver_callback[3](uuid='1b9d', extra=('a', 'b'))"
        )
        == "Starting job pushgate:deliver_callback[3](uuid=..., extra=...)"
    )


def test_the_worker_never_logs_a_phone_number(
    service_app: ServiceClient, live_server: LiveServer, kept: Kept
) -> None:
    phone = f"555{secrets.randbelow(10**7):07d}"
    response = service_app.client.post(
        "/protected/json/users/new",
        json={
            "user": {"email": EMAIL, "cellphone": phone, "country_code": 1},
            "send_install_link_via_sms": True,
        },
    )
    assert response.status_code == 200

    deadline = time.monotonic() + 15
    while "send_phone_message" not in kept.text or "ended" not in kept.text:
        assert time.monotonic() < deadline, kept.text
        time.sleep(0.05)

    call = re.search(r"send_phone_message\[\d+\]\(([^)]*)\)", kept.text)
    assert call is not None, kept.text
    assert sorted(call.group(1).split(", ")) == [
        "channel=...",
        "sealed_text=...",
        "to=...",
    ]
    assert phone not in kept.text
    assert EMAIL not in kept.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "GET /protected/json/app/details?api_key=K3y-secret&x=1",
            "GET /protected/json/app/details?api_key=[redacted]&x=1",
        ),
        ("/a?API_KEY=K3y-secret", "/a?API_KEY=[redacted]"),
        ("/a?api%5Fkey=K3y-secret", "/a?api%5Fkey=[redacted]"),
        ("/a?user%5Bpassword%5D=K3y-secret", "/a?user%5Bpassword%5D=[redacted]"),
        (
            "/check?phone_number=2025550143&country_code=1&verification_code=1234",
            "/check?phone_number=[redacted]&country_code=1"
            "&verification_code=[redacted]",
        ),
        ("/outbox?to=%2B12025550143", "/outbox?to=[redacted]"),
        (
            "/protected/json/verify/1234567/5?action=abc&token=x",
            "/protected/json/verify/[code]/5?action=abc&token=[redacted]",
        ),
        (
            "/protected/json/app/details?force=true",
            "/protected/json/app/details?force=true",
        ),
    ],
)
def test_request_lines_hide_secrets_and_personal_data(line: str, expected: str) -> None:
    assert log_redaction.redact(line) == expected


def test_the_api_key_in_a_query_stays_out_of_request_logs(
    service_app: ServiceClient, live_server: LiveServer
) -> None:
    log_redaction.install()
    handler = Kept()
    targets = [logging.getLogger(name) for name in log_redaction.REQUEST_LOGGERS]
    levels = [target.level for target in targets]
    for target in targets:
        target.addHandler(handler)
        target.setLevel(logging.INFO)
    try:
        with httpx.Client(base_url=live_server.base_url) as client:
            details = client.get(
                "/protected/json/app/details", params={"api_key": service_app.key}
            )
            check = client.get(
                "/protected/json/phones/verification/check",
                params={
                    "api_key": service_app.key,
                    "phone_number": "2025550143",
                    "country_code": "1",
                    "verification_code": "987654",
                },
            )
        # uvicorn writes its access line after the response went out.
        deadline = time.monotonic() + 5
        while sum(r.name == "uvicorn.access" for r in handler.records) < 2:
            assert time.monotonic() < deadline, handler.text
            time.sleep(0.02)
    finally:
        for target, level in zip(targets, levels, strict=True):
            target.removeHandler(handler)
            target.setLevel(level)

    assert details.status_code == 200
    assert check.status_code == 404
    for logger_name in ("uvicorn.access", "httpx"):
        lines = [r.getMessage() for r in handler.records if r.name == logger_name]
        assert any("api_key=[redacted]" in line for line in lines), lines
        assert any("verification_code=[redacted]" in line for line in lines), lines
    assert service_app.key not in handler.text
    assert "987654" not in handler.text
    assert "2025550143" not in handler.text
