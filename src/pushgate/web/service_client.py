"""The web app's client for the approval service's Authy-compatible API.

The site reaches the service only through this client, over HTTP, even when
both run in one process; the same code works against any compatible service.
It is asynchronous (the shared ``httpx.AsyncClient``), so a slow service never
blocks the event loop. Every call returns its result or a :class:`ServiceError`
value; network failures become errors, not exceptions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from pushgate import safe_json
from pushgate.runtime import Runtime

logger = logging.getLogger("pushgate")

#: The service's names for user fields, mapped to the sign-up form's names.
_FIELD_NAMES = {"cellphone": "phone", "country_code": "country_code", "email": "email"}

UNREACHABLE = "The approval service could not be reached; wait a moment and try again."
FAILED = "The approval service failed to answer; wait a moment and try again."
REFUSED = (
    "The approval service refused this request (HTTP {status}); check what you "
    "entered, or start again."
)


def failure_message(status_code: int | None) -> str:
    """What to tell the person when a call failed without a message of its own.

    Only a call that got no answer at all says the service could not be
    reached: a refusal (4xx) or a failure (5xx) came from a service that was.
    """
    if status_code is None:
        return UNREACHABLE
    if 400 <= status_code < 500:
        return REFUSED.format(status=status_code)
    return FAILED


@dataclass(frozen=True, slots=True)
class ServiceError:
    """A failed call: a sentence for the person, and per-field problems."""

    message: str
    field_errors: dict[str, str] = field(default_factory=dict)
    status_code: int | None = None


@dataclass(frozen=True, slots=True)
class UserStatus:
    registered: bool
    devices: list[str]


@dataclass(frozen=True, slots=True)
class CreatedApproval:
    uuid: str
    #: The two-digit number the person must pick on the phone, if any.
    number_match: int | None = None


@dataclass(frozen=True, slots=True)
class EnrollmentLink:
    url: str
    expires_at: str


class ServiceClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"ServiceClient(base_url={self._base_url!r})"

    async def register_user(
        self, email: str, country_code: str, cellphone: str
    ) -> int | ServiceError:
        """Register a person; their id at the service (``authy_id``)."""
        body = {
            "user": {
                "email": email,
                "country_code": country_code,
                "cellphone": cellphone,
            }
        }
        result = await self._call("POST", "/protected/json/users/new", body)
        if isinstance(result, ServiceError):
            return result
        user_id = result.get("user", {}).get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            return self._malformed("/protected/json/users/new")
        return user_id

    async def user_status(self, authy_id: int) -> UserStatus | ServiceError:
        path = f"/protected/json/users/{authy_id}/status"
        result = await self._call("GET", path)
        if isinstance(result, ServiceError):
            return result
        status = result.get("status")
        if not isinstance(status, dict):
            return self._malformed(path)
        devices = status.get("devices")
        return UserStatus(
            registered=status.get("registered") is True,
            devices=[str(d) for d in devices] if isinstance(devices, list) else [],
        )

    async def request_approval(
        self,
        authy_id: int,
        *,
        message: str,
        details: dict[str, str],
        hidden_details: dict[str, str],
        seconds_to_expire: int,
    ) -> CreatedApproval | ServiceError:
        """Send a push to the person's devices; the approval request's uuid."""
        path = f"/onetouch/json/users/{authy_id}/approval_requests"
        body = {
            "message": message,
            "details": details,
            "hidden_details": hidden_details,
            "seconds_to_expire": seconds_to_expire,
        }
        result = await self._call("POST", path, body)
        if isinstance(result, ServiceError):
            return result
        created = result.get("approval_request", {})
        request_uuid = created.get("uuid")
        if not isinstance(request_uuid, str) or not request_uuid:
            return self._malformed(path)
        # Services without number matching send no number; the page then
        # shows none and the phone asks for no pick.
        number = created.get("number_match")
        if not isinstance(number, int) or isinstance(number, bool):
            number = None
        return CreatedApproval(uuid=request_uuid, number_match=number)

    async def enrollment_link(self, authy_id: int) -> EnrollmentLink | ServiceError:
        """A one-time link that enrolls a phone as the person's authenticator."""
        path = f"/protected/json/users/{authy_id}/enrollment"
        result = await self._call("POST", path, {})
        if isinstance(result, ServiceError):
            return result
        enrollment = result.get("enrollment")
        if not isinstance(enrollment, dict) or not isinstance(
            enrollment.get("url"), str
        ):
            return self._malformed(path)
        return EnrollmentLink(
            url=enrollment["url"], expires_at=str(enrollment.get("expires_at", ""))
        )

    async def devices(self, authy_id: int) -> list[dict[str, Any]] | ServiceError:
        """The person's enrolled devices (``id``, ``name``, ``created_at`` ...)."""
        path = f"/protected/json/users/{authy_id}/devices"
        result = await self._call("GET", path)
        if isinstance(result, ServiceError):
            return result
        found = result.get("devices")
        if not isinstance(found, list):
            return self._malformed(path)
        return [device for device in found if isinstance(device, dict)]

    async def remove_device(self, authy_id: int, device_id: str) -> ServiceError | None:
        path = f"/protected/json/users/{authy_id}/devices/{quote(device_id, safe='')}"
        result = await self._call("POST", path + "/remove", {})
        return result if isinstance(result, ServiceError) else None

    async def security_events(
        self, authy_id: int
    ) -> list[dict[str, Any]] | ServiceError:
        """The service's audit trail for the person, newest first."""
        path = f"/protected/json/users/{authy_id}/security_events"
        result = await self._call("GET", path)
        if isinstance(result, ServiceError):
            return result
        found = result.get("events")
        if not isinstance(found, list):
            return self._malformed(path)
        return [event for event in found if isinstance(event, dict)]

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any] | ServiceError:
        try:
            response = await self._http.request(
                method,
                self._base_url + path,
                json=body,
                headers={
                    "X-Authy-API-Key": self._api_key,
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as error:
            logger.warning(
                "Approval service call %s %s failed: %s",
                method,
                path,
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
            logger.warning(
                "Approval service answered %s %s with status %s and no JSON object",
                method,
                path,
                response.status_code,
            )
            return ServiceError(
                failure_message(response.status_code), status_code=response.status_code
            )
        if response.is_success and payload.get("success", True) is not False:
            return payload
        return _error_from(payload, response.status_code, method, path)

    def _malformed(self, path: str) -> ServiceError:
        logger.warning("Approval service answered %s without the expected fields", path)
        return ServiceError(FAILED)


def _error_from(
    payload: dict[str, Any], status_code: int, method: str, path: str
) -> ServiceError:
    logger.warning(
        "Approval service refused %s %s with status %s (error code %s)",
        method,
        path,
        status_code,
        payload.get("error_code", "none"),
    )
    message = payload.get("message")
    field_errors: dict[str, str] = {}
    errors = payload.get("errors")
    if isinstance(errors, dict):
        for name, problem in errors.items():
            form_name = _FIELD_NAMES.get(name)
            if form_name and isinstance(problem, str):
                field_errors[form_name] = _field_sentence(form_name, problem)
    text = (
        message
        if isinstance(message, str) and message
        else failure_message(status_code)
    )
    return ServiceError(
        message=_sentence(text), field_errors=field_errors, status_code=status_code
    )


def _field_sentence(form_name: str, problem: str) -> str:
    label = {"phone": "This phone number", "country_code": "This country code"}.get(
        form_name, "This email address"
    )
    return f"{label} {problem.rstrip('.')}; check it and try again."


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def service_client(runtime: Runtime) -> ServiceClient:
    """The client for the configured service, with the web app's key."""
    return ServiceClient(
        runtime.http,
        runtime.settings.resolved_service_url(),
        runtime.service_api_key or "",
    )
