"""Keep codes out of request logs.

Authy's verify call carries the code in its path
(``/protected/json/verify/{code}/{user}``), so the server's access log and
the HTTP client's request log would write it down. A filter on those two
loggers replaces that path segment before anything is formatted.
"""

from __future__ import annotations

import logging
import re

#: Loggers that write request lines: uvicorn's access log and httpx's.
REQUEST_LOGGERS = ("uvicorn.access", "httpx")

_VERIFY_PATH = re.compile(r"(/protected/json/verify/)[^/?#\s\"]*")
_MARK = "/protected/json/verify/"


def redact(text: str) -> str:
    return _VERIFY_PATH.sub(r"\1[code]", text) if _MARK in text else text


class RedactCodes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(arg) for arg in record.args)
        return True


def _redacted_arg(arg: object) -> object:
    # httpx passes its URL object; anything whose text has the path is redacted.
    if isinstance(arg, bytes | int | float):
        return arg
    text = str(arg)
    return redact(text) if _MARK in text else arg


def install() -> None:
    """Add the filter to the request loggers (once)."""
    for name in REQUEST_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactCodes) for f in target.filters):
            target.addFilter(RedactCodes())
