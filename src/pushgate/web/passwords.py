"""Password hashing with argon2id (argon2-cffi's defaults).

Hashing is slow on purpose, so it runs in a worker thread and never stalls
the event loop that carries every open event stream.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    matches: bool
    #: A fresh hash to store when the old one used weaker parameters.
    new_hash: str | None = None

    def __repr__(self) -> str:
        return f"PasswordCheck(matches={self.matches!r})"


async def hash_password(password: str) -> str:
    return await run_in_threadpool(_hasher.hash, password)


@functools.cache
def _stand_in_hash() -> str:
    return _hasher.hash("pushgate stand-in password")


def _check(stored_hash: str | None, password: str) -> PasswordCheck:
    if stored_hash is None:
        # An unknown email costs the same work as a wrong password, so the
        # answer's timing does not tell which accounts exist.
        _verify(_stand_in_hash(), password)
        return PasswordCheck(matches=False)
    if not _verify(stored_hash, password):
        return PasswordCheck(matches=False)
    if _hasher.check_needs_rehash(stored_hash):
        return PasswordCheck(matches=True, new_hash=_hasher.hash(password))
    return PasswordCheck(matches=True)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def check_password(stored_hash: str | None, password: str) -> PasswordCheck:
    """Whether ``password`` matches ``stored_hash`` (``None``: no such account)."""
    return await run_in_threadpool(_check, stored_hash, password)
