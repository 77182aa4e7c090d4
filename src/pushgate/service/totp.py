"""Time-based one-time passwords (RFC 6238) and each user's TOTP secret.

A code is HOTP (RFC 4226) over the count of 30-second steps since the epoch,
with HMAC-SHA1: what authenticator apps make from an ``otpauth://totp`` URI.
The service accepts the current step and one step either side (clocks
drift), and remembers the last step it accepted so a code works only once.
Five wrong codes in a row lock TOTP for the user a while.

The secret is kept encrypted with a key derived from the server secret; the
authenticator page and any standard app get it in base32.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote, urlencode

import segno
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceTotp
from pushgate.service._derived_keys import fernet

PERIOD_SECONDS = 30
#: Steps accepted either side of the current one.
DRIFT_STEPS = 1
#: Wrong codes in a row before TOTP is locked for LOCK_TIME.
MAX_FAILURES = 5
LOCK_TIME = timedelta(minutes=10)
SECRET_BYTES = 20

_PURPOSE = "totp secrets"


def hotp(key: bytes, counter: int, digits: int = 6, digest: str = "sha1") -> str:
    """RFC 4226: the ``digits``-digit code for ``counter`` under ``key``."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    (value,) = struct.unpack(">I", mac[offset : offset + 4])
    return str((value & 0x7FFFFFFF) % 10**digits).zfill(digits)


def step_at(at: datetime, period: int = PERIOD_SECONDS) -> int:
    return int(at.timestamp()) // period


def totp(
    key: bytes,
    at: datetime,
    digits: int = 6,
    period: int = PERIOD_SECONDS,
    digest: str = "sha1",
) -> str:
    """RFC 6238: the code valid at ``at``."""
    return hotp(key, step_at(at, period), digits, digest)


def new_secret() -> str:
    """A random secret in base32 without padding, as authenticator apps take it."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def secret_key(secret_base32: str) -> bytes:
    cleaned = secret_base32.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def otpauth_uri(
    secret_base32: str,
    issuer: str,
    account: str,
    digits: int = 6,
    period: int = PERIOD_SECONDS,
) -> str:
    """The Key URI authenticator apps scan: ``otpauth://totp/Issuer:account?...``."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode(
        {
            "secret": secret_base32,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": digits,
            "period": period,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg_data_uri(uri: str, size: int | None = None) -> str:
    """``uri`` as a QR code: an SVG ``data:`` URI about ``size`` pixels wide."""
    qr = segno.make(uri, error="m")
    width, _ = qr.symbol_size(scale=1)
    scale = max(1, round(size / width)) if size else 4
    data_uri: str = qr.svg_data_uri(scale=scale)
    return data_uri


@dataclass(frozen=True, repr=False)
class TotpSecret:
    """A user's TOTP secret and parameters; ``repr`` hides the secret."""

    secret: str
    digits: int
    period: int = PERIOD_SECONDS

    def uri(self, issuer: str, account: str) -> str:
        return otpauth_uri(self.secret, issuer, account, self.digits, self.period)

    def code(self, at: datetime) -> str:
        return totp(secret_key(self.secret), at, self.digits, self.period)

    def __repr__(self) -> str:
        return f"TotpSecret(secret='***', digits={self.digits}, period={self.period})"


def _reveal(server_secret: str, row: ServiceTotp) -> TotpSecret:
    secret = fernet(server_secret, _PURPOSE).decrypt(row.secret_encrypted.encode())
    return TotpSecret(secret=secret.decode(), digits=row.digits)


async def get_secret(
    session: AsyncSession, server_secret: str, user_id: int
) -> TotpSecret | None:
    row = await session.get(ServiceTotp, user_id)
    return None if row is None else _reveal(server_secret, row)


async def ensure_secret(
    session: AsyncSession, server_secret: str, user_id: int, digits: int = 6
) -> TotpSecret:
    """The user's TOTP secret, created on first use.

    Called when a device enrolls (the authenticator page shows the rolling
    code) and when an application asks for the QR code; both get the same
    secret, so every authenticator of the user shows the same codes.
    """
    row = await session.get(ServiceTotp, user_id, with_for_update=True)
    if row is not None:
        return _reveal(server_secret, row)

    secret = new_secret()
    encrypted = fernet(server_secret, _PURPOSE).encrypt(secret.encode()).decode()
    session.add(
        ServiceTotp(
            user_id=user_id,
            secret_encrypted=encrypted,
            digits=digits,
            failures=0,
            created_at=clock.now(),
        )
    )
    await session.flush()
    return TotpSecret(secret=secret, digits=digits)


class TotpCheck(StrEnum):
    VALID = "valid"
    WRONG = "wrong"
    REPLAYED = "replayed"
    LOCKED = "locked"


def matching_step(
    secret: TotpSecret, code: str, at: datetime, drift: int = DRIFT_STEPS
) -> int | None:
    """The step within ``drift`` of ``at`` whose code is ``code``, if any."""
    # 0-9 only (str.isdigit() also takes ١٢٣), and compared as bytes:
    # compare_digest refuses a str with anything but ASCII in it.
    if not re.fullmatch(f"[0-9]{{{secret.digits}}}", code):
        return None
    given = code.encode()
    key = secret_key(secret.secret)
    current = step_at(at, secret.period)
    found = None
    # Every candidate is compared, so timing does not tell which step matched.
    for step in range(current - drift, current + drift + 1):
        if hmac.compare_digest(hotp(key, step, secret.digits).encode(), given):
            found = step
    return found


def check_row(server_secret: str, row: ServiceTotp, code: str) -> TotpCheck:
    """Check ``code`` against a locked ``row`` and record the outcome on it.

    The caller holds the row ``FOR UPDATE`` and commits, so two requests with
    the same code cannot both pass.
    """
    now = clock.now()
    if row.locked_until is not None and row.locked_until > now:
        return TotpCheck.LOCKED

    step = matching_step(_reveal(server_secret, row), code, now)
    if step is None:
        return TotpCheck.WRONG
    if row.last_used_step is not None and step <= row.last_used_step:
        return TotpCheck.REPLAYED

    row.last_used_step = step
    row.failures = 0
    row.locked_until = None
    return TotpCheck.VALID


def record_failure(row: ServiceTotp) -> int:
    """Count a wrong code against ``row``; returns the tries left before a lock."""
    now = clock.now()
    if row.locked_until is not None and row.locked_until > now:
        return 0
    row.failures += 1
    if row.failures >= MAX_FAILURES:
        row.failures = 0
        row.locked_until = now + LOCK_TIME
        return 0
    return MAX_FAILURES - row.failures
