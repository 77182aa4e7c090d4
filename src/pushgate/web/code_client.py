"""The site's calls to the approval service's token API: send a code, check one.

Like every call the site makes, they go over HTTP with the site's API key;
the answers are values (sent, accepted, refused with a reason), never
exceptions. A refusal keeps the service's ``reason`` and ``tries_left`` so
the login page can say exactly what went wrong.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from pushgate import safe_json
from pushgate.runtime import Runtime
from pushgate.web.service_client import (
    UNREACHABLE,
    ServiceClient,
    ServiceError,
    failure_message,
)

logger = logging.getLogger("pushgate")

Via = Literal["sms", "call"]

_CODE = re.compile(r"[0-9]{6,12}")


@dataclass(frozen=True, slots=True)
class CodeSent:
    #: The number as the service shows it, e.g. ``+1-XXX-XXX-XX85``.
    cellphone: str


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The service's verdict on a code: accepted, or refused and why."""

    accepted: bool
    #: ``invalid``, ``used`` or ``too_many_tries`` when refused.
    reason: str = ""
    tries_left: int | None = None


class CodeClient(ServiceClient):
    async def send_code(
        self, authy_id: int, via: Via, *, action: str, action_message: str
    ) -> CodeSent | ServiceError:
        """Text or call a new code tied to ``action`` (a login attempt)."""
        path = f"/protected/json/{via}/{authy_id}"
        params = {"force": "true", "action": action, "action_message": action_message}
        answer = await self._get_json(path, params)
        if isinstance(answer, ServiceError):
            return answer
        status, payload = answer
        if status == 200 and payload.get("success") is True:
            return CodeSent(cellphone=str(payload.get("cellphone", "")))
        return _refused(payload, status, path)

    async def check_code(
        self, authy_id: int, code: str, *, action: str
    ) -> CodeCheck | ServiceError:
        if not _CODE.fullmatch(code):
            # Never put anything but a code into the path; the form checks too.
            return CodeCheck(accepted=False, reason="invalid")
        path = f"/protected/json/verify/{code}/{authy_id}"
        answer = await self._get_json(path, {"force": "true", "action": action})
        if isinstance(answer, ServiceError):
            return answer
        status, payload = answer
        if status == 200 and payload.get("token") == "is valid":
            return CodeCheck(accepted=True)
        if status in (401, 429) and payload.get("token") == "is invalid":
            tries_left = payload.get("tries_left")
            return CodeCheck(
                accepted=False,
                reason=str(payload.get("reason") or "invalid"),
                tries_left=tries_left if isinstance(tries_left, int) else None,
            )
        return _refused(payload, status, "/protected/json/verify")

    async def _get_json(
        self, path: str, params: dict[str, str]
    ) -> tuple[int, dict[str, Any]] | ServiceError:
        try:
            response = await self._http.get(
                self._base_url + path,
                params=params,
                headers={
                    "X-Authy-API-Key": self._api_key,
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as error:
            logger.warning(
                "Approval service call to the token API failed: %s",
                type(error).__name__,
            )
            return ServiceError(UNREACHABLE)
        try:
            # The service is trusted to answer, not to answer sanely: its JSON
            # goes through the same depth and size checks as any request body.
            payload = safe_json.loads(response.content)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return ServiceError(
                failure_message(response.status_code), status_code=response.status_code
            )
        return response.status_code, payload


def _refused(payload: dict[str, Any], status: int, path: str) -> ServiceError:
    # The path of a verify call holds the code: log only the endpoint's kind.
    logger.warning(
        "Approval service refused %s with status %s (error code %s)",
        path,
        status,
        payload.get("error_code", "none"),
    )
    message = payload.get("message")
    text = message if isinstance(message, str) and message else failure_message(status)
    if not text.endswith((".", "!", "?")):
        text += "."
    return ServiceError(text, status_code=status)


def code_client(runtime: Runtime) -> CodeClient:
    return CodeClient(
        runtime.http,
        runtime.settings.resolved_service_url(),
        runtime.service_api_key or "",
    )
