"""Approval requests: created by an application, answered once by a device.

A request is ``pending`` until a device of its user answers ``approved`` or
``denied``. It reads as ``expired`` once its time has passed while still
pending; no answer is taken after that. Answering is one conditional UPDATE
(pending, unexpired, answered by an enrolled device of the same user), so
two answers racing cannot both win. The callback job is queued and the
user's authenticator pages are told in the same transaction.
"""

from __future__ import annotations

import enum
import uuid as uuid_module
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import (
    ServiceApp,
    ServiceApprovalRequest,
    ServiceDevice,
    ServiceUser,
)
from pushgate.security.push_limits import SUPERSEDED

DEFAULT_SECONDS_TO_EXPIRE = 86400
MAX_SECONDS_TO_EXPIRE = 30 * 86400
#: How far a device's clock may be from ours when it signs an answer.
SIGNING_WINDOW = timedelta(minutes=5)


def user_topic(user_id: int) -> str:
    """The event topic the authenticator pages of a user listen on."""
    return f"service-user:{user_id}"


def effective_status(request: ServiceApprovalRequest, now: datetime) -> str:
    if request.status == "pending" and now >= request.expires_at:
        return "expired"
    return request.status


async def create(
    session: AsyncSession,
    app: ServiceApp,
    user: ServiceUser,
    *,
    message: str,
    details: dict[str, Any],
    hidden_details: dict[str, Any],
    logos: list[dict[str, str]] | None,
    seconds_to_expire: int,
) -> ServiceApprovalRequest:
    now = clock.now()
    request = ServiceApprovalRequest(
        uuid=str(uuid_module.uuid4()),
        app_id=app.id,
        user_id=user.id,
        message=message,
        details=details,
        hidden_details=hidden_details,
        logos={"logos": logos} if logos else None,
        seconds_to_expire=seconds_to_expire,
        status="pending",
        created_at=now,
        expires_at=now + timedelta(seconds=seconds_to_expire),
        flagged=False,
        reason="",
    )
    session.add(request)
    await session.flush()
    return request


async def find(
    session: AsyncSession, app_id: int, uuid: str
) -> ServiceApprovalRequest | None:
    if not uuid or len(uuid) > 64:
        return None
    return await session.scalar(
        select(ServiceApprovalRequest).where(
            ServiceApprovalRequest.uuid == uuid,
            ServiceApprovalRequest.app_id == app_id,
        )
    )


async def pending_for_users(
    session: AsyncSession, user_ids: Sequence[int]
) -> list[ServiceApprovalRequest]:
    """Pending, unexpired requests of these users, oldest first."""
    if not user_ids:
        return []
    result = await session.scalars(
        select(ServiceApprovalRequest)
        .where(
            ServiceApprovalRequest.user_id.in_(user_ids),
            ServiceApprovalRequest.status == "pending",
            ServiceApprovalRequest.expires_at > clock.now(),
        )
        .order_by(ServiceApprovalRequest.created_at)
        .limit(50)
    )
    return list(result)


def _timestamp(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def status_body(
    request: ServiceApprovalRequest, app: ServiceApp, user: ServiceUser
) -> dict[str, Any]:
    """``GET approval_requests/{uuid}`` as the Authy API answered it."""
    now = clock.now()
    status = effective_status(request, now)
    processed = request.answered_at if status in ANSWERED else None
    body: dict[str, Any] = {
        "_app_name": app.name,
        "_app_serial_id": app.id,
        "_authy_id": user.id,
        "_id": request.uuid.replace("-", "")[:24],
        "_user_email": user.email,
        "app_id": str(app.id),
        "created_at": _timestamp(request.created_at),
        "notified": False,
        "processed_at": _timestamp(processed),
        "seconds_to_expire": request.seconds_to_expire,
        "expires_at": _timestamp(request.expires_at),
        "status": status,
        "updated_at": _timestamp(request.answered_at or request.created_at),
        "user_id": str(user.id),
        "uuid": request.uuid,
    }
    if request.device_id is not None:
        body["device"] = {"id": request.device_id}
    return {"approval_request": body, "success": True}


ANSWERED = ("approved", "denied")


class AnswerOutcome(enum.Enum):
    ACCEPTED = "accepted"
    NOT_FOUND = "not_found"
    WRONG_DEVICE = "wrong_device"
    BAD_SIGNATURE = "bad_signature"
    STALE_SIGNATURE = "stale_signature"
    ALREADY_ANSWERED = "already_answered"
    EXPIRED = "expired"
    #: A newer request for the same user withdrew this one unanswered.
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Answer:
    uuid: str
    status: str
    device_id: str
    signed_at: int
    signature: str


async def record_answer(
    session: AsyncSession, answer: Answer, device: ServiceDevice
) -> tuple[AnswerOutcome, ServiceApprovalRequest | None]:
    """Record ``answer`` if it may still be given; the outcome and the request.

    The caller has already checked the signature against ``device``'s key.
    The UPDATE re-checks everything that could change meanwhile.
    """
    now = clock.now()
    signed_at = datetime.fromtimestamp(answer.signed_at, tz=now.tzinfo)
    if abs(now - signed_at) > SIGNING_WINDOW:
        return AnswerOutcome.STALE_SIGNATURE, None

    device_is_live = exists().where(
        ServiceDevice.id == device.id,
        ServiceDevice.user_id == ServiceApprovalRequest.user_id,
        ServiceDevice.revoked_at.is_(None),
    )
    result = await session.execute(
        update(ServiceApprovalRequest)
        .where(
            ServiceApprovalRequest.uuid == answer.uuid,
            ServiceApprovalRequest.status == "pending",
            ServiceApprovalRequest.expires_at > now,
            device_is_live,
        )
        .values(
            status=answer.status,
            answered_at=now,
            device_id=device.id,
            device_signing_time=signed_at,
            device_signature=answer.signature,
        )
        .returning(ServiceApprovalRequest.uuid)
    )
    if result.scalar_one_or_none() is not None:
        request = await session.get(
            ServiceApprovalRequest, answer.uuid, populate_existing=True
        )
        return AnswerOutcome.ACCEPTED, request

    # Refused: find out why, for the message (nothing was changed).
    request = await session.get(ServiceApprovalRequest, answer.uuid)
    if request is None:
        return AnswerOutcome.NOT_FOUND, None
    if request.user_id != device.user_id:
        return AnswerOutcome.WRONG_DEVICE, request
    if request.status == "expired" and request.reason == SUPERSEDED:
        return AnswerOutcome.SUPERSEDED, request
    if request.status in ANSWERED:
        return AnswerOutcome.ALREADY_ANSWERED, request
    if request.status == "expired" or request.expires_at <= now:
        return AnswerOutcome.EXPIRED, request
    return AnswerOutcome.WRONG_DEVICE, request
