"""One-time codes by SMS or voice call, and checking any code a user gives.

A code is random, lives ten minutes, works once, and is kept only as an HMAC
keyed with a key derived from the server secret (a bare hash of a 7-digit
number could be reversed by trying them all). A user has at most one live
code: sending another replaces it. Five wrong codes and the code is dead; a
new one must be requested. A code may be tied to an *action* (the login
attempt it was sent for) and then proves only that action.

:func:`verify_code` is what the API's verify endpoint calls: it accepts the
live SMS/voice code or a TOTP code, and counts a wrong code against both.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from cryptography.fernet import InvalidToken
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceToken, ServiceTotp, ServiceUser
from pushgate.service import totp
from pushgate.service._derived_keys import derived_key, fernet
from pushgate.service.senders.base import Channel

CODE_DIGITS = 7
CODE_LIFETIME = timedelta(minutes=10)
#: Wrong codes before the live code is dead and a new one is needed.
MAX_FAILURES = 5
#: At most SEND_LIMIT codes are sent to one user within SEND_WINDOW.
SEND_LIMIT = 5
SEND_WINDOW = timedelta(minutes=10)
MAX_ACTION_LENGTH = 200

_HASH_PURPOSE = "sms codes"
_SEAL_PURPOSE = "queued messages"


def new_code(digits: int = CODE_DIGITS) -> str:
    return str(secrets.randbelow(10**digits)).zfill(digits)


def hash_code(server_secret: str, user_id: int, code: str) -> str:
    key = derived_key(server_secret, _HASH_PURPOSE)
    return hmac.new(key, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def seal(server_secret: str, text: str) -> str:
    """Encrypt a message text for the job queue (job arguments are stored)."""
    return fernet(server_secret, _SEAL_PURPOSE).encrypt(text.encode()).decode()


def unseal(server_secret: str, sealed: str) -> str | None:
    """The text sealed by :func:`seal`, or None once it is older than a code lives."""
    try:
        text = fernet(server_secret, _SEAL_PURPOSE).decrypt(
            sealed.encode(),
            ttl=int(CODE_LIFETIME.total_seconds()),
        )
    except InvalidToken:
        return None
    return text.decode()


@dataclass(frozen=True, repr=False)
class IssuedCode:
    token: ServiceToken
    code: str

    def __repr__(self) -> str:
        return f"IssuedCode(token_id={self.token.id}, code='***')"


async def sends_in_window(session: AsyncSession, user_id: int) -> int:
    since = clock.now() - SEND_WINDOW
    count = await session.scalar(
        select(func.count())
        .select_from(ServiceToken)
        .where(ServiceToken.user_id == user_id, ServiceToken.created_at > since)
    )
    return int(count or 0)


async def issue_code(
    session: AsyncSession,
    server_secret: str,
    user_id: int,
    channel: Channel,
    action: str = "",
) -> IssuedCode | None:
    """A new live code for the user, replacing any other; None when sending too often.

    The caller commits, then queues the message.
    """
    now = clock.now()
    # Holding the user's row makes concurrent requests count one after another.
    await session.execute(
        select(ServiceUser.id).where(ServiceUser.id == user_id).with_for_update()
    )
    if await sends_in_window(session, user_id) >= SEND_LIMIT:
        return None

    await session.execute(
        update(ServiceToken)
        .where(
            ServiceToken.user_id == user_id,
            ServiceToken.used_at.is_(None),
            ServiceToken.replaced_at.is_(None),
        )
        .values(replaced_at=now)
    )
    code = new_code()
    token = ServiceToken(
        user_id=user_id,
        channel=channel,
        code_hash=hash_code(server_secret, user_id, code),
        action=action[:MAX_ACTION_LENGTH],
        failures=0,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(token)
    await session.flush()
    return IssuedCode(token=token, code=code)


class Verdict(StrEnum):
    VALID = "valid"
    #: Wrong, expired, or for another action.
    INVALID = "invalid"
    #: A correct TOTP code that was already used.
    USED = "used"
    #: No tries left: a new code must be requested (or TOTP waits).
    TOO_MANY_TRIES = "too_many_tries"


@dataclass(frozen=True)
class VerifyResult:
    verdict: Verdict
    #: How the code was proven: "sms", "call" or "totp" (VALID only).
    method: str | None = None
    #: Wrong codes still allowed before a new code is needed.
    tries_left: int | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.VALID


async def _current_token(session: AsyncSession, user_id: int) -> ServiceToken | None:
    """The user's newest code that is neither used, replaced nor expired."""
    token: ServiceToken | None = await session.scalar(
        select(ServiceToken)
        .where(
            ServiceToken.user_id == user_id,
            ServiceToken.used_at.is_(None),
            ServiceToken.replaced_at.is_(None),
            ServiceToken.expires_at > clock.now(),
        )
        .order_by(ServiceToken.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    return token


def _token_matches(
    server_secret: str, token: ServiceToken, code: str, action: str
) -> bool:
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters,
    # and the code and action are whatever the caller was sent.
    right_code = hmac.compare_digest(
        token.code_hash.encode(), hash_code(server_secret, token.user_id, code).encode()
    )
    # A code sent for one action (a login attempt) proves only that action.
    right_action = not action or hmac.compare_digest(
        token.action.encode(), action.encode()
    )
    return right_code and right_action


async def verify_code(
    session: AsyncSession,
    server_secret: str,
    user_id: int,
    code: str,
    action: str = "",
) -> VerifyResult:
    """Check a code the user typed; records the outcome, the caller commits."""
    now = clock.now()
    token = await _current_token(session, user_id)
    totp_row = await session.scalar(
        select(ServiceTotp)
        .where(ServiceTotp.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    token_alive = token is not None and token.failures < MAX_FAILURES

    if token_alive and token and _token_matches(server_secret, token, code, action):
        token.used_at = now
        return VerifyResult(Verdict.VALID, method=token.channel)

    if totp_row is not None:
        checked = totp.check_row(server_secret, totp_row, code)
        if checked is totp.TotpCheck.VALID:
            return VerifyResult(Verdict.VALID, method="totp")
        if checked is totp.TotpCheck.REPLAYED:
            return VerifyResult(Verdict.USED)

    return _record_wrong_code(token if token_alive else None, totp_row, token)


def _record_wrong_code(
    live_token: ServiceToken | None,
    totp_row: ServiceTotp | None,
    newest_token: ServiceToken | None,
) -> VerifyResult:
    left: list[int] = []
    if live_token is not None:
        live_token.failures += 1
        left.append(MAX_FAILURES - live_token.failures)
    if totp_row is not None:
        left.append(totp.record_failure(totp_row))

    tries_left = max(left, default=0)
    exhausted = newest_token is not None or totp_row is not None
    if tries_left == 0 and exhausted:
        return VerifyResult(Verdict.TOO_MANY_TRIES, tries_left=0)
    return VerifyResult(Verdict.INVALID, tries_left=tries_left if left else None)
