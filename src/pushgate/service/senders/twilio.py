"""The Twilio sender: texts and voice calls through the official ``twilio`` package.

The package builds, signs and parses the API calls; its HTTP goes through the
process's own ``httpx`` client (an adapter below), so there is one connection
pool to close and tests can put a mocked transport underneath.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

import httpx
from twilio.base.exceptions import TwilioException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from pushgate.service.senders.base import Message, Sender, SendError

_twilio_logger = logging.getLogger("pushgate.twilio")


class HttpxTwilioClient(AsyncHttpClient):  # type: ignore[misc]
    """Twilio's asynchronous HTTP client interface over an ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, timeout: float = 10.0) -> None:
        super().__init__(logger=_twilio_logger, is_async=True, timeout=timeout)
        self._http = http

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        response = await self._http.request(
            method,
            uri,
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        return Response(response.status_code, response.text, response.headers)


class TwilioSender(Sender):
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        http: httpx.AsyncClient,
    ) -> None:
        self._from = from_number
        self._client = Client(
            account_sid, auth_token, http_client=HttpxTwilioClient(http)
        )

    async def send(self, message: Message) -> str:
        try:
            if message.channel == "sms":
                sent = await self._client.messages.create_async(
                    to=message.to, from_=self._from, body=message.text
                )
            else:
                sent = await self._client.calls.create_async(
                    to=message.to, from_=self._from, twiml=voice_twiml(message.text)
                )
        except (TwilioException, httpx.HTTPError) as exc:
            # The exception text can quote the request; keep only its kind.
            raise SendError(
                f"Twilio refused or did not answer a {message.channel} "
                f"({type(exc).__name__}); check the PUSHGATE_TWILIO_* settings."
            ) from None
        return f"twilio {sent.sid}"


def voice_twiml(text: str) -> str:
    """TwiML that says ``text`` twice, slowly enough to write down."""
    said = escape(text)
    return (
        "<Response>"
        f'<Say voice="alice">{said}</Say><Pause length="1"/>'
        f'<Say voice="alice">{said}</Say>'
        "</Response>"
    )
