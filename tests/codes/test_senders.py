"""Senders: phone masks, and the Twilio sender against a mocked HTTP layer.

Twilio cannot be reached from here: its API is an ``httpx.MockTransport``
under the official ``twilio`` package, which builds and parses every call.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import ValidationError

from pushgate.service.senders.base import (
    Message,
    SendError,
    e164,
    mask_number,
    masked_cellphone,
)
from pushgate.service.senders.twilio import TwilioSender, voice_twiml
from pushgate.settings import Settings

SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-auth-token-for-tests"
FROM = "+15005550006"


def test_numbers_are_masked_as_authy_showed_them() -> None:
    assert masked_cellphone("1", "555-123-4585") == "+1-XXX-XXX-XX85"
    assert masked_cellphone("+351", "912345667") == "+351-XXX-XXX-X67"
    assert e164("+1", "(555) 123-4585") == "+15551234585"
    assert mask_number("+15551234585") == "+XXXXXXXXX85"


def test_message_repr_hides_text_and_number() -> None:
    message = Message(channel="sms", to="+15551234585", text="Your code: 1234567")
    assert "1234567" not in repr(message)
    assert "5551234" not in repr(message)


class FakeTwilio:
    """Answers like Twilio's REST API and keeps what it was sent."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status >= 400:
            return httpx.Response(
                self.status,
                json={"code": 21211, "message": "Invalid 'To' Phone Number"},
            )
        kind = "SM" if request.url.path.endswith("/Messages.json") else "CA"
        return httpx.Response(
            self.status,
            json={"sid": kind + "1" * 32, "account_sid": SID, "status": "queued"},
        )


def _sender(fake: Callable[[httpx.Request], httpx.Response]) -> TwilioSender:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    return TwilioSender(SID, AUTH_TOKEN, FROM, http)


def _form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


async def test_sms_goes_to_twilios_messages_api() -> None:
    fake = FakeTwilio()
    reference = await _sender(fake).send(
        Message(channel="sms", to="+15551234585", text="Your code: 1234567")
    )

    assert reference == "twilio SM" + "1" * 32
    (request,) = fake.requests
    assert request.method == "POST"
    assert str(request.url) == (
        f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    )
    credentials = base64.b64encode(f"{SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    form = _form(request)
    assert form == {
        "To": ["+15551234585"],
        "From": [FROM],
        "Body": ["Your code: 1234567"],
    }


async def test_voice_code_is_a_call_that_says_the_text() -> None:
    fake = FakeTwilio()
    text = "Your code is: 1, 2, 3. Once more: 1, 2, 3."
    reference = await _sender(fake).send(
        Message(channel="call", to="+15551234585", text=text)
    )

    assert reference == "twilio CA" + "1" * 32
    (request,) = fake.requests
    assert request.url.path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    form = _form(request)
    assert form["To"] == ["+15551234585"] and form["From"] == [FROM]
    assert form["Twiml"] == [voice_twiml(text)]
    assert form["Twiml"][0].count(text) == 2


def test_twiml_escapes_markup() -> None:
    assert "<b>" not in voice_twiml("<b>1</b> & 2")
    assert "&lt;b&gt;1&lt;/b&gt; &amp; 2" in voice_twiml("<b>1</b> & 2")


async def test_a_refusal_becomes_a_send_error_without_the_text() -> None:
    fake = FakeTwilio(status=400)
    with pytest.raises(SendError) as raised:
        await _sender(fake).send(
            Message(channel="sms", to="+15551234585", text="Your code: 7654321")
        )
    assert "7654321" not in str(raised.value)
    assert "PUSHGATE_TWILIO" in str(raised.value)


async def test_an_unreachable_twilio_becomes_a_send_error() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(SendError):
        await _sender(down).send(
            Message(channel="sms", to="+15551234585", text="Your code: 1")
        )


def test_twilio_sender_needs_its_settings() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, message_sender="twilio", twilio_account_sid=SID)  # type: ignore[call-arg]
    message = str(raised.value)
    assert "PUSHGATE_TWILIO_AUTH_TOKEN" in message
    assert "PUSHGATE_TWILIO_FROM_NUMBER" in message
    assert "PUSHGATE_TWILIO_ACCOUNT_SID" not in message

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        message_sender="twilio",
        twilio_account_sid=SID,
        twilio_auth_token=AUTH_TOKEN,  # type: ignore[arg-type]
        twilio_from_number=FROM,
    )
    assert AUTH_TOKEN not in repr(settings)
