"""Server-side sessions: the cookie holds a random token, the table its hash.

Keeping only the SHA-256 of the token means a leaked copy of the table does
not let anyone act as a visitor. Ending a session deletes its row, so it is
revoked at once. Logging in replaces the row with one under a new token
(rotation), so a token planted in a browser before login is worthless after.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.requests import HTTPConnection
from starlette.responses import Response

from pushgate import clock
from pushgate.db.engine import retrying
from pushgate.db.models import WebSession
from pushgate.runtime import Runtime
from pushgate.settings import Settings

COOKIE_NAME = "pushgate_session"

_ATTEMPT_ID_QUERY = text(
    "SELECT data ->> 'attempt_id' FROM web_sessions"
    " WHERE token_hash = :token_hash AND expires_at > :now"
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(slots=True)
class SessionState:
    """One visitor's session as loaded for a request."""

    token_hash: str
    user_id: int | None
    data: dict[str, Any] = field(default_factory=dict)
    #: The raw token when the browser must be sent a new cookie.
    new_token: str | None = None

    @property
    def csrf_token(self) -> str:
        return str(self.data.get("csrf", ""))

    @property
    def attempt_id(self) -> str | None:
        value = self.data.get("attempt_id")
        return value if isinstance(value, str) else None

    def __repr__(self) -> str:
        # Never show the token, its hash or the CSRF token in logs or tracebacks.
        return f"SessionState(user_id={self.user_id!r})"


def _cookie_token(request: HTTPConnection) -> str | None:
    token = request.cookies.get(COOKIE_NAME)
    if not token or len(token) > 128:
        return None
    return token


async def load(db: AsyncSession, request: HTTPConnection) -> SessionState | None:
    """The request's live session, or ``None`` without a valid cookie."""
    token = _cookie_token(request)
    if token is None:
        return None
    row = await db.scalar(
        select(WebSession).where(
            WebSession.token_hash == hash_token(token),
            WebSession.expires_at > clock.now(),
        )
    )
    if row is None:
        return None
    return SessionState(token_hash=row.token_hash, user_id=row.user_id, data=row.data)


async def read_attempt_id(runtime: Runtime, request: HTTPConnection) -> str | None:
    """The login attempt the request's session waits for, read-only and cheap.

    Used by long-lived streams, which must never write the session and should
    hold a database connection only for one small query.
    """
    token = _cookie_token(request)
    if token is None:
        return None
    params = {"token_hash": hash_token(token), "now": clock.now()}

    async def read(connection: AsyncConnection) -> object:
        return await connection.scalar(_ATTEMPT_ID_QUERY, params)

    # Autocommit: one round trip, without BEGIN and ROLLBACK around it.
    value = await retrying(runtime.engine, read)
    return value if isinstance(value, str) else None


async def start(
    db: AsyncSession,
    settings: Settings,
    user_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> SessionState:
    """A new session row under a fresh token, with its own CSRF token."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    state = SessionState(
        token_hash=hash_token(token),
        user_id=user_id,
        data={**(data or {}), "csrf": new_csrf_token()},
        new_token=token,
    )
    db.add(
        WebSession(
            token_hash=state.token_hash,
            user_id=user_id,
            data=state.data,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.session_max_age_seconds),
        )
    )
    await db.flush()
    return state


async def load_or_start(
    db: AsyncSession, settings: Settings, request: HTTPConnection
) -> SessionState:
    """The request's session, starting an anonymous one when there is none.

    Pages with forms need a session to hold their CSRF token.
    """
    state = await load(db, request)
    if state is not None:
        return state
    return await start(db, settings)


async def save_data(db: AsyncSession, state: SessionState) -> None:
    await db.execute(
        update(WebSession)
        .where(WebSession.token_hash == state.token_hash)
        .values(data=state.data)
    )


async def rotate(
    db: AsyncSession, settings: Settings, state: SessionState, user_id: int
) -> SessionState:
    """Replace the session with a new one for ``user_id`` (at login).

    The old row is deleted, so the old token and its CSRF token stop
    working, and the login attempt it carried is left behind.
    """
    await end(db, state)
    return await start(db, settings, user_id=user_id)


async def renew(
    db: AsyncSession, settings: Settings, state: SessionState
) -> SessionState:
    """The same session under a new token and CSRF token, its data kept.

    Done when the password proves who is logging in, so a token known to
    anyone else before that moment is useless after it.
    """
    await end(db, state)
    data = {key: value for key, value in state.data.items() if key != "csrf"}
    return await start(db, settings, user_id=state.user_id, data=data)


async def end_all(db: AsyncSession, user_id: int) -> None:
    """Sign the user out everywhere: every session of theirs stops working."""
    await db.execute(delete(WebSession).where(WebSession.user_id == user_id))


async def end(db: AsyncSession, state: SessionState) -> None:
    await db.execute(
        delete(WebSession).where(WebSession.token_hash == state.token_hash)
    )


def apply_cookie(response: Response, settings: Settings, state: SessionState) -> None:
    """Send the session cookie when the session is new or was rotated."""
    if state.new_token is None:
        return
    response.set_cookie(
        COOKIE_NAME,
        state.new_token,
        max_age=settings.session_max_age_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
