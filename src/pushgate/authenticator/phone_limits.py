"""How often a client may ask for a code to enroll by phone number.

``/authenticator/api/phone/start`` needs no login, so it must neither tell
who is registered nor text anyone without end. Three things see to that:

* every well-formed number gets the same work and the same answer: a code is
  made and a send is queued whether or not a site registered the number (the
  job sends it only if one did; see
  :func:`pushgate.service.phone_messages.queue_enrollment_code`);
* each number gets at most five codes in ten minutes, counted the same way
  for every number (:mod:`pushgate.service.phone_verification`);
* each client address (an IPv6 /64 as one) gets :data:`FREE_PER_ADDRESS`
  requests, then waits twice as long after each further one, up to the login
  throttle's longest wait, and is forgotten after its memory of quiet
  (:mod:`pushgate.security.throttle`, under keys of its own).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from pushgate.security import throttle
from pushgate.settings import Settings

#: Code requests from one client address before the waits start.
FREE_PER_ADDRESS = 10


def address_key(address: str) -> str:
    return "phone-start-" + throttle.address_key(address)


async def seconds_blocked(session: AsyncSession, address: str, now: datetime) -> int:
    """Seconds until ``address`` may ask for a code again; 0: now."""
    return await throttle.key_blocked_for(session, address_key(address), now)


async def count_request(
    session: AsyncSession, address: str, now: datetime, settings: Settings
) -> None:
    limits = throttle.ThrottleLimits.from_settings(settings)
    await throttle.count_try(
        session, address_key(address), FREE_PER_ADDRESS, now, limits
    )
