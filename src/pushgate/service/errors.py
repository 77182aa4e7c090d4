"""Errors of the approval service API, in the shape the Authy API used.

Every refusal is a JSON body like::

    {"success": false, "message": "User not found.",
     "errors": {"message": "User not found."}, "error_code": "60026"}

with extra fields for the parameters that were wrong, both inside
``errors`` and at the top level, as Authy's clients read either.

The one exception class::

    ApiError          a request the service refuses; carries status and body

Routes of the service use :class:`AuthyRoute`, which turns an ``ApiError``
(and FastAPI's own validation errors) into such a response, so nothing a
client sends reaches the generic 500 handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

logger = logging.getLogger("pushgate")

# Error codes as the Authy API numbered them.
GENERIC = "60000"
INVALID_API_KEY = "60001"
INVALID_REQUEST = "60002"
INVALID_PARAMETER = "60004"
USER_NOT_FOUND = "60026"
USER_NOT_VALID = "60027"
PHONE_INVALID = "60033"
VERIFICATION_INCORRECT = "60022"
NO_PENDING_VERIFICATION = "60023"


class ApiError(Exception):
    """A request the service refuses, with the HTTP status and Authy body."""

    def __init__(
        self,
        status_code: int,
        message: str,
        error_code: str,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.error_code = error_code
        self.fields = dict(fields or {})

    def body(self) -> dict[str, Any]:
        errors: dict[str, Any] = {"message": self.message, **self.fields}
        return {
            **self.fields,
            "message": self.message,
            "success": False,
            "errors": errors,
            "error_code": self.error_code,
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code)


def invalid_api_key() -> ApiError:
    return ApiError(401, "Invalid API key", INVALID_API_KEY)


def user_not_found() -> ApiError:
    return ApiError(404, "User not found.", USER_NOT_FOUND)


def invalid_parameter(name: str, problem: str) -> ApiError:
    """A parameter that is missing or malformed; ``problem`` says what is wrong."""
    return ApiError(
        400, f"Invalid parameter {name}: {problem}", INVALID_PARAMETER, {name: problem}
    )


class AuthyRoute(APIRoute):
    """A route whose refusals are Authy-shaped JSON bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                return error.response()
            except RequestValidationError as error:
                first = error.errors()[0] if error.errors() else {}
                where = ".".join(str(part) for part in first.get("loc", ()) if part)
                problem = str(first.get("msg", "is invalid"))
                return invalid_parameter(where or "request", problem).response()

        return guarded
