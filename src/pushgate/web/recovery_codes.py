"""Recovery codes: ten single-use codes for when the phone is out of reach.

They are made when a phone is first seen enrolled (the account page shows
them that once), kept only as HMACs keyed with a key derived from the server
secret, and replaced as a set from the account page. A code is ten
characters from an alphabet without look-alikes (about 49 bits), written
``abcde-fghjk``; case, spaces and dashes do not matter when typed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from pushgate import clock
from pushgate.db.models import RecoveryCode, User
from pushgate.runtime import Runtime, get_runtime
from pushgate.security import audit
from pushgate.web import accounts, sessions
from pushgate.web._http import checked_form, client_ip, redirect
from pushgate.web.templating import render

COUNT = 10
LENGTH = 10
#: Lower-case letters and digits without i, l, o, 0 and 1.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
#: The audit event of a replaced set (the trail describes it from its name).
REPLACED = "recovery_codes_replaced"

router = APIRouter(include_in_schema=False)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize(typed: str) -> str:
    return "".join(typed.split()).replace("-", "").lower()


def looks_like_code(normalized: str) -> bool:
    return len(normalized) == LENGTH and all(ch in ALPHABET for ch in normalized)


def _key(server_secret: str) -> bytes:
    return hashlib.sha256(b"pushgate recovery codes|" + server_secret.encode()).digest()


def hash_code(server_secret: str, user_id: int, normalized: str) -> str:
    message = f"{user_id}:{normalized}".encode()
    return hmac.new(_key(server_secret), message, hashlib.sha256).hexdigest()


async def issue(db: AsyncSession, server_secret: str, user_id: int) -> list[str]:
    """A new set of codes for the user, replacing any earlier set."""
    now = clock.now()
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_code() for _ in range(COUNT)]
    db.add_all(
        RecoveryCode(
            user_id=user_id,
            code_hash=hash_code(server_secret, user_id, normalize(code)),
            created_at=now,
        )
        for code in codes
    )
    await db.flush()
    return codes


async def consume(
    db: AsyncSession, server_secret: str, user_id: int, typed: str, now: datetime
) -> bool:
    """Use one of the user's codes; False when it is wrong or already used.

    One ``UPDATE`` checks and marks, so a code cannot be used twice at once.
    """
    normalized = normalize(typed)
    if not looks_like_code(normalized):
        return False
    used = await db.scalar(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == hash_code(server_secret, user_id, normalized),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(RecoveryCode.id)
    )
    return used is not None


async def remaining(db: AsyncSession, user_id: int) -> tuple[int, int]:
    """How many codes the user has, and how many are still unused."""
    row = (
        await db.execute(
            select(
                func.count(),
                func.count().filter(RecoveryCode.used_at.is_(None)),
            ).where(RecoveryCode.user_id == user_id)
        )
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True, repr=False)
class RecoveryView:
    """What the account page shows about recovery codes."""

    #: Codes made just now: shown this once, never again.
    fresh: list[str] | None
    total: int
    unused: int

    def __repr__(self) -> str:
        return f"RecoveryView(total={self.total}, unused={self.unused})"


async def account_view(runtime: Runtime, user: User, *, enrolled: bool) -> RecoveryView:
    """The account page's view, making the first set once a phone is enrolled."""
    secret = runtime.settings.resolved_secret_key()
    async with runtime.sessions.begin() as db:
        # Holding the user's row: two pages loading at once make one set.
        await db.execute(select(User.id).where(User.id == user.id).with_for_update())
        total, unused = await remaining(db, user.id)
        if total or not enrolled:
            return RecoveryView(fresh=None, total=total, unused=unused)
        fresh = await issue(db, secret, user.id)
    return RecoveryView(fresh=fresh, total=COUNT, unused=COUNT)


#: The session key that holds a new set until the page showing it is loaded.
_SHOW_ONCE = "new_recovery_codes"


@router.post("/account/recovery-codes")
async def replace(request: Request) -> Response:
    """Make a new set, then show it by a redirect: a reload of the page that
    shows the codes never makes (and silently swaps in) yet another set."""
    runtime = get_runtime(request)
    checked = await checked_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    _, session = checked
    async with runtime.sessions.begin() as db:
        user = await accounts.signed_in_user(db, session)
        if user is None:
            return redirect("/login")
        codes = await issue(db, runtime.settings.resolved_secret_key(), user.id)
        await audit.record(db, REPLACED, user_id=user.id, ip=client_ip(request))
        # Kept server-side for the one page that shows them, then dropped.
        session.data[_SHOW_ONCE] = codes
        await sessions.save_data(db, session)
    return redirect("/account/recovery-codes")


@router.get("/account/recovery-codes")
async def show_new(request: Request) -> Response:
    runtime = get_runtime(request)
    async with runtime.sessions.begin() as db:
        session = await sessions.load(db, request)
        user = await accounts.signed_in_user(db, session)
        if user is None or session is None:
            return redirect("/login")
        codes = session.data.pop(_SHOW_ONCE, None)
        if codes is not None:
            await sessions.save_data(db, session)
        total, unused = await remaining(db, user.id)
    fresh = [str(code) for code in codes] if isinstance(codes, list) else None
    return render(
        request,
        "web/code_recovery_new.html",
        session=session,
        user=user,
        shown_before=fresh is None,
        recovery=RecoveryView(fresh=fresh, total=total, unused=unused),
    )
