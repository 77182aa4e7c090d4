"""Enrolled authenticator devices and the signatures on their answers.

A device is a browser that made an ECDSA P-256 key pair it cannot export
(WebCrypto, ``extractable: false``) and registered the public half (SPKI,
base64). It proves an answer by signing the canonical string::

    pushgate-answer|{uuid}|{status}|{device_id}|{signed_at}

WebCrypto returns the signature as raw ``r || s`` (64 bytes); it is turned
into DER for ``cryptography`` here. The browser also holds a random device
token in an HttpOnly cookie; only its SHA-256 hash is stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceDevice, ServiceUser

SIGNATURE_BYTES = 64
ANSWER_STATUSES = ("approved", "denied")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_public_key(spki_base64: str) -> ec.EllipticCurvePublicKey | None:
    """The P-256 public key in ``spki_base64``, or ``None`` if it is not one."""
    try:
        der = base64.b64decode(spki_base64, validate=True)
        key = serialization.load_der_public_key(der)
    except (ValueError, binascii.Error, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return None
    if not isinstance(key.curve, ec.SECP256R1):
        return None
    return key


def canonical_answer(uuid: str, status: str, device_id: str, signed_at: int) -> bytes:
    return f"pushgate-answer|{uuid}|{status}|{device_id}|{signed_at}".encode()


def signature_is_valid(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    """Whether the raw ``r || s`` signature (base64) over ``message`` is right."""
    key = load_public_key(public_key_b64)
    if key is None:
        return False
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    if len(raw) != SIGNATURE_BYTES:
        return False
    half = SIGNATURE_BYTES // 2
    der = encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )
    try:
        key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def describe_user_agent(user_agent: str) -> str:
    """A short, human name for the device (shown to operators and sites)."""
    agent = user_agent.lower()
    for needle, name in (
        ("iphone", "iPhone"),
        ("ipad", "iPad"),
        ("android", "Android"),
        ("windows", "Windows"),
        ("mac os", "Mac"),
        ("linux", "Linux"),
    ):
        if needle in agent:
            return name
    return "Browser"


def device_kind(name: str) -> str:
    """The device family as Authy's user status listed it."""
    return {"iPhone": "ios", "iPad": "ios", "Android": "android"}.get(
        name, "authenticator"
    )


async def register(
    session: AsyncSession, user_id: int, public_key: str, name: str
) -> tuple[ServiceDevice, str]:
    """A new device for ``user_id`` and its cookie token (shown only now)."""
    token = secrets.token_urlsafe(32)
    device = ServiceDevice(
        id="dev_" + secrets.token_hex(12),
        user_id=user_id,
        name=name[:100],
        public_key=public_key,
        token_hash=token_hash(token),
        created_at=clock.now(),
    )
    session.add(device)
    await session.flush()
    return device, token


async def active_for_tokens(
    session: AsyncSession, tokens: Sequence[str]
) -> list[tuple[ServiceDevice, ServiceUser]]:
    """The enrolled, non-revoked devices (with their live users) of ``tokens``."""
    hashes = [token_hash(token) for token in tokens if token]
    if not hashes:
        return []
    rows = await session.execute(
        select(ServiceDevice, ServiceUser)
        .join(ServiceUser, ServiceUser.id == ServiceDevice.user_id)
        .where(
            ServiceDevice.token_hash.in_(hashes),
            ServiceDevice.revoked_at.is_(None),
            ServiceUser.deleted_at.is_(None),
        )
        .order_by(ServiceDevice.created_at)
    )
    return [(device, user) for device, user in rows]
