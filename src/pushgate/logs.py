"""Logging: ``pushgate`` for operations, ``pushgate.security`` for auth events.

Security events name who and what, never a password, code, key or token.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("pushgate")
security_logger = logging.getLogger("pushgate.security")


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def security_event(event: str, **fields: Any) -> None:
    """Log one security event as ``event key=value ...`` (no secrets)."""
    detail = " ".join(f"{key}={value!r}" for key, value in sorted(fields.items()))
    security_logger.info("%s %s", event, detail)
