"""Signed callbacks to applications, delivered through the job queue.

When a device answers, :func:`queue_callback` puts a ``deliver_callback``
job into procrastinate's table *inside the transaction that records the
answer*, so an answer is never committed without its callback, and a crash
or restart loses none. The job POSTs the Authy OneTouch callback body to the
application's callback URL, signed as Authy signed it (``X-Authy-Signature``
over the nonce, method, URL and flattened body, keyed with the application's
API key).

A delivery fails on a refused connection, a timeout or a 5xx/408/429 answer
and is retried with growing delays (1 s, 2 s, 4 s ... then every 10 minutes)
for about five hours. Any other 4xx is the site saying no: it is recorded and
not retried. Every attempt is recorded in ``service_callback_deliveries``.
The site may receive an answer more than once; the body carries the request
uuid so it can ignore repeats.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

import httpx
import procrastinate
from procrastinate import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock, webhook_signature
from pushgate.db.models import (
    ServiceApp,
    ServiceApprovalRequest,
    ServiceCallbackDelivery,
    ServiceDevice,
    ServiceUser,
)
from pushgate.jobs import current_runtime, tasks

# Registers the task that sends install links and verification codes.
from pushgate.service import phone_messages  # noqa: F401
from pushgate.service.apps import signing_key

logger = logging.getLogger("pushgate")

TASK_NAME = "pushgate:deliver_callback"
QUEUE = "callbacks"
TIMEOUT_SECONDS = 10.0
FIRST_DELAY = 1
MAX_DELAY = 600
MAX_ATTEMPTS = 40


def retry_delay(attempts: int) -> int:
    """Seconds before the next try after ``attempts`` failed ones (from 1)."""
    return int(min(MAX_DELAY, FIRST_DELAY * 2 ** max(0, attempts - 1)))


class DeliveryFailed(Exception):
    """The callback did not arrive and may arrive later (retried)."""


class CallbackRetry(BaseRetryStrategy):
    """Doubling delays up to ten minutes, only for deliveries that may succeed."""

    def get_retry_decision(
        self, *, exception: BaseException, job: Job
    ) -> RetryDecision | None:
        if not isinstance(exception, DeliveryFailed):
            return None
        if job.attempts + 1 >= MAX_ATTEMPTS:
            return None
        return RetryDecision(retry_in={"seconds": retry_delay(job.attempts + 1)})


async def _driver_connection(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def queue_callback(
    session: AsyncSession, jobs: procrastinate.App, approval_uuid: str
) -> None:
    """Queue the callback for an answered request in ``session``'s transaction."""
    driver = await _driver_connection(session)
    await jobs.configure_task(
        name=TASK_NAME, queue=QUEUE, connection=driver
    ).defer_async(approval_uuid=approval_uuid)


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def callback_body(
    request: ServiceApprovalRequest,
    app: ServiceApp,
    user: ServiceUser,
    device: ServiceDevice | None,
) -> dict[str, Any]:
    """The OneTouch callback body, field for field as Authy sent it."""
    device_details: dict[str, Any] = {}
    if device is not None:
        device_details = {
            "device_name": device.name,
            "registration_date": _epoch(device.created_at),
        }
    return {
        "authy_id": user.id,
        "device_uuid": request.device_id or "",
        "callback_action": "approval_request_status",
        "uuid": request.uuid,
        "status": request.status,
        "approval_request": {
            "transaction": {
                "details": request.details,
                "device_details": device_details,
                "device_geolocation": "",
                "device_signing_time": _epoch(request.device_signing_time),
                "encrypted": False,
                "flagged": request.flagged,
                "hidden_details": request.hidden_details,
                "message": request.message,
                "reason": request.reason,
                "requester_details": None,
                "status": request.status,
                "uuid": request.uuid,
                "created_at_time": _epoch(request.created_at),
                "customer_uuid": str(app.id),
            },
            "expiration_timestamp": _epoch(request.expires_at),
        },
        "signature": request.device_signature,
    }


def new_nonce() -> str:
    """Unique per delivery attempt: seconds since the epoch, then random digits."""
    return f"{int(clock.now().timestamp())}{secrets.randbelow(10**6):06d}"


@tasks.task(
    name="deliver_callback",
    queue=QUEUE,
    retry=CallbackRetry(),
    pass_context=True,
)
async def deliver_callback(context: JobContext, approval_uuid: str) -> None:
    runtime = current_runtime()
    attempt = (context.job.attempts if context.job else 0) + 1
    async with runtime.sessions.begin() as session:
        loaded = await _load(session, approval_uuid)
        if loaded is None:
            logger.warning("No callback for approval %s: it is gone", approval_uuid)
            return
        request, app, user, device = loaded
        if not app.callback_url:
            logger.info("Application %s has no callback URL; nothing sent", app.id)
            return
        key = signing_key(runtime.settings.resolved_secret_key(), app)
        body = callback_body(request, app, user, device)
        delivery = ServiceCallbackDelivery(
            app_id=app.id,
            approval_uuid=request.uuid,
            url=app.callback_url,
            attempt=attempt,
            started_at=clock.now(),
            outcome="sending",
            error="",
        )
        session.add(delivery)
        await session.flush()
        delivery_id, url = delivery.id, app.callback_url

    nonce = new_nonce()
    headers = {
        "X-Authy-Signature": webhook_signature.sign(key, nonce, "POST", url, body),
        "X-Authy-Signature-Nonce": nonce,
        "User-Agent": "pushgate-callbacks",
    }
    outcome, status_code, error = await _post(runtime.http, url, body, headers)
    final = outcome == "failed" and attempt >= MAX_ATTEMPTS
    async with runtime.sessions.begin() as session:
        record = await session.get(ServiceCallbackDelivery, delivery_id)
        if record is not None:
            record.finished_at = clock.now()
            record.outcome = "abandoned" if final else outcome
            record.status_code = status_code
            record.error = error[:500]

    if outcome == "delivered":
        logger.info(
            "Callback for approval %s delivered to app %s", request.uuid, app.id
        )
        return
    if outcome == "rejected":
        logger.warning(
            "Callback for approval %s refused by app %s with HTTP %s; not retried",
            request.uuid,
            app.id,
            status_code,
        )
        return
    logger.warning(
        "Callback for approval %s to app %s failed (attempt %s): %s",
        request.uuid,
        app.id,
        attempt,
        error,
    )
    raise DeliveryFailed(error)


async def _load(
    session: AsyncSession, approval_uuid: str
) -> (
    tuple[ServiceApprovalRequest, ServiceApp, ServiceUser, ServiceDevice | None] | None
):
    row = (
        await session.execute(
            select(ServiceApprovalRequest, ServiceApp, ServiceUser)
            .join(ServiceApp, ServiceApp.id == ServiceApprovalRequest.app_id)
            .join(ServiceUser, ServiceUser.id == ServiceApprovalRequest.user_id)
            .where(ServiceApprovalRequest.uuid == approval_uuid)
        )
    ).first()
    if row is None:
        return None
    request, app, user = row
    device = None
    if request.device_id is not None:
        device = await session.get(ServiceDevice, request.device_id)
    return request, app, user, device


async def _post(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[str, int | None, str]:
    """``(outcome, status code, error)``; outcome is delivered/failed/rejected."""
    try:
        response = await http.post(
            url, json=body, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as error:
        return "failed", None, f"{type(error).__name__}: {error}"
    code = response.status_code
    if 200 <= code < 300:
        return "delivered", code, ""
    if code >= 500 or code in (408, 429):
        return "failed", code, f"HTTP {code}"
    return "rejected", code, f"HTTP {code}"


@tasks.periodic(cron="* * * * *", periodic_id="stalled-callbacks")
@tasks.task(name="retry_stalled_callbacks", queue=QUEUE, pass_context=True)
async def retry_stalled_callbacks(context: JobContext, timestamp: int) -> None:
    """Put back callback jobs whose worker died mid-delivery (a crash or kill)."""
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(task_name=TASK_NAME)
    for job in stalled:
        logger.warning("Retrying callback job %s left by a stopped worker", job.id)
        await manager.retry_job(job)
