"""A pushgate database seen from the test process, for servers in subprocesses.

It seeds what a login leaves behind (a user, a login attempt waiting for an
answer, the browser's session pointing at it) through the web app's own
models and session module, and answers like the approval service does: a
callback signed with the web app's API key. Streams are read with httpx-sse.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import psycopg
from httpx_sse import aconnect_sse
from sqlalchemy import select
from sqlalchemy.engine import make_url

from pushgate import clock, webhook_signature
from pushgate.db.engine import create_engine, libpq_url, session_factory
from pushgate.db.models import LoginAttempt, ServiceApp, User
from pushgate.events.postgres import APPLICATION_NAME
from pushgate.service.apps import SITE_APP_NAME, signing_key
from pushgate.settings import Settings
from pushgate.web import sessions
from tests.support.processes import SECRET_KEY


@dataclass
class Waiting:
    """A browser waiting on one login attempt."""

    token: str
    attempt_id: str
    approval_uuid: str
    authy_id: int

    @property
    def cookies(self) -> dict[str, str]:
        return {sessions.COOKIE_NAME: self.token}


class RemoteSite:
    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url, pool_size=2)
        self.sessions = session_factory(self.engine)
        self.settings = Settings(_env_file=None, secret_key=SECRET_KEY)  # type: ignore[call-arg]

    async def close(self) -> None:
        await self.engine.dispose()

    async def make_waiting(self, expires_in: float = 120) -> Waiting:
        attempt_id = secrets.token_urlsafe(24)
        approval_uuid = secrets.token_hex(16)
        authy_id = 10**9 + secrets.randbelow(10**9)
        now = clock.now()
        async with self.sessions.begin() as db:
            user = User(
                name="Test Person",
                email=f"{secrets.token_hex(6)}@example.com",
                password_hash="unusable",
                country_code="1",
                phone=str(2_000_000_000 + secrets.randbelow(10**9)),
                authy_id=authy_id,
                created_at=now,
            )
            db.add(user)
            await db.flush()
            db.add(
                LoginAttempt(
                    id=attempt_id,
                    user_id=user.id,
                    status="pending",
                    approval_uuid=approval_uuid,
                    created_at=now,
                    expires_at=now + timedelta(seconds=expires_in),
                    ip="127.0.0.1",
                    user_agent="test",
                )
            )
            state = await sessions.start(
                db, self.settings, data={"attempt_id": attempt_id}
            )
        assert state.new_token is not None
        return Waiting(state.new_token, attempt_id, approval_uuid, authy_id)

    async def api_key(self) -> str:
        """The key the approval service signs the web app's callbacks with."""
        async with self.sessions() as db:
            app = await db.scalar(
                select(ServiceApp)
                .where(ServiceApp.name == SITE_APP_NAME)
                .order_by(ServiceApp.id)
                .limit(1)
            )
        assert app is not None, "no server has created the site's application"
        return signing_key(SECRET_KEY, app)

    async def answer(
        self, base_url: str, waiting: Waiting, status: str = "approved"
    ) -> httpx.Response:
        """POST the signed callback for ``waiting`` to the server at ``base_url``."""
        body = callback_body(waiting, status)
        nonce = f"{int(clock.now().timestamp())}.{secrets.randbelow(10**9):09d}"
        url = f"{base_url}/authy/callback"
        signature = webhook_signature.sign(
            await self.api_key(), nonce, "POST", url, body
        )
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(
                url,
                json=body,
                headers={
                    "X-Authy-Signature": signature,
                    "X-Authy-Signature-Nonce": nonce,
                },
            )


def callback_body(waiting: Waiting, status: str) -> dict[str, object]:
    """A callback body shaped as the approval service sends it."""
    return {
        "authy_id": waiting.authy_id,
        "device_uuid": "device-1",
        "callback_action": "approval_request_status",
        "uuid": waiting.approval_uuid,
        "status": status,
        "approval_request": {
            "transaction": {
                "details": {"Email": "someone@example.com"},
                "hidden_details": {"login_attempt_id": waiting.attempt_id},
                "message": "Log in to pushgate",
                "status": status,
                "uuid": waiting.approval_uuid,
                "encrypted": False,
                "flagged": False,
                "requester_details": None,
            },
            "expiration_timestamp": 1_900_000_000,
        },
        "signature": "device-signature",
    }


class LiveStatus:
    """A browser's ``/authy/live_status`` stream, read by httpx-sse."""

    def __init__(
        self, base_url: str, waiting: Waiting, last_event_id: str | None = None
    ) -> None:
        self.base_url = base_url
        self.waiting = waiting
        self.headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        self.statuses: list[str] = []
        self._opened = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveStatus:
        self._task = asyncio.create_task(self._read())
        opened = asyncio.create_task(self._opened.wait())
        await asyncio.wait({self._task, opened}, return_when=asyncio.FIRST_COMPLETED)
        opened.cancel()
        if self._task.done():
            self._task.result()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _read(self) -> None:
        async with (
            httpx.AsyncClient(
                base_url=self.base_url,
                cookies=self.waiting.cookies,
                headers=self.headers,
                timeout=None,
            ) as client,
            aconnect_sse(client, "GET", "/authy/live_status") as source,
        ):
            source.response.raise_for_status()
            async for event in source.aiter_sse():
                if event.event == "authy_status":
                    self.statuses.append(json.loads(event.data)["status"])
                    self._opened.set()

    async def final(self, timeout: float) -> str:
        """The status the stream ended on (it ends on a final status)."""
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self.statuses[-1]


async def connections(database_url: str, application_name: str | None = None) -> int:
    """Sessions on the database (other than this check's own)."""
    name = make_url(database_url).database
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()"
    )
    params: list[object] = [name]
    if application_name is not None:
        query += " AND application_name = %s"
        params.append(application_name)
    async with await psycopg.AsyncConnection.connect(
        libpq_url(database_url), autocommit=True
    ) as connection:
        cursor = await connection.execute(query, params)
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def kill_listeners(database_url: str) -> int:
    """Terminate every event listener connected to the database; how many."""
    name = make_url(database_url).database
    async with await psycopg.AsyncConnection.connect(
        libpq_url(database_url), autocommit=True
    ) as connection:
        cursor = await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s",
            [name, APPLICATION_NAME],
        )
        return len(await cursor.fetchall())


async def until(check: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Wait until ``await check()`` is true; the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        if loop.time() - start > timeout:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.05)
    return loop.time() - start
