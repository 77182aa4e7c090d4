"""The one place pushgate reads the time.

Every expiry check goes through :func:`now` so tests can move time with
:func:`frozen` instead of sleeping.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_fixed: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    if _fixed is not None:
        return _fixed
    return datetime.now(UTC) + _offset


@contextlib.contextmanager
def shifted(by: timedelta) -> Iterator[None]:
    """Run a block as if the clock were ``by`` ahead (tests only)."""
    global _offset
    previous = _offset
    _offset = previous + by
    try:
        yield
    finally:
        _offset = previous


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Run a block with the clock stopped at ``at`` (tests only)."""
    global _fixed
    previous = _fixed
    _fixed = at
    try:
        yield
    finally:
        _fixed = previous
