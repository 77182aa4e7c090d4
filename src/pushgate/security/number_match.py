"""Number matching: the person proves the push is for the login in front of them.

Each approval request gets a two-digit number, shown on the waiting login page.
The authenticator offers three numbers, the right one and two decoys, and an
approval counts only with the right pick. Someone who sends pushes with a
stolen password cannot see the number, so a tired tap on Approve is no longer
enough. The choices are stored with the request, so reloading the
authenticator shows the same three and cannot narrow them down.
"""

from __future__ import annotations

import hmac
import secrets

_random = secrets.SystemRandom()

LOWEST, HIGHEST = 10, 99


def new_number() -> int:
    return _random.randint(LOWEST, HIGHEST)


def choices_for(number: int) -> list[int]:
    """Three distinct two-digit numbers, ``number`` among them, shuffled."""
    decoys = _random.sample([n for n in range(LOWEST, HIGHEST + 1) if n != number], 2)
    numbers = [number, *decoys]
    _random.shuffle(numbers)
    return numbers


def picked_right(number: int | None, picked: int | None) -> bool:
    """Whether an approval may stand; requests without a number need no pick."""
    if number is None:
        return True
    if picked is None:
        return False
    return hmac.compare_digest(str(number).encode(), str(picked).encode())
