"""Password checks that take as long for an unknown email as for a wrong password.

When no account has the email, the password is still verified, against a
dummy hash made with the same hasher, so the time an answer takes does not
tell whether an account exists. Verification runs in a worker thread: argon2
is meant to be slow, and the event loop keeps serving streams meanwhile.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class EvenPasswordCheck:
    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        # A hash of a random password nobody knows, with the same parameters.
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(24))

    def verify_now(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``None`` (no account) never matches."""
        try:
            matched = self.hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return bool(matched) and stored_hash is not None

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify_now, stored_hash, password)
