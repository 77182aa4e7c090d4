"""Keep codes, request data and personal data out of the logs.

Three kinds of log line would otherwise write them down:

Request lines
    Authy's verify call carries the code in its path
    (``/protected/json/verify/{code}/{user}``), and older Authy clients send
    the API key as ``?api_key=``, so uvicorn's access log and httpx's request
    log would show them. The path segment is replaced, and so is the value of
    every query parameter named in :data:`HIDDEN_PARAMETERS` (secrets, and
    the personal data a query can carry), however its name is encoded.
Tracebacks
    An error the server survives (uvicorn's "Exception in ASGI application",
    a failed job) is logged with its traceback, and an exception's message
    can quote what the request sent: PostgreSQL's ``invalid input syntax for
    type integer: "ada@example.com"``, ``Key (email)=(...) already exists``,
    Python's ``invalid literal for int(): '...'``. (SQLAlchemy's own list of
    the statement's parameters is off: the engine hides them.) The traceback
    is written again with the same frames and each exception's type, and
    with its message only for connection and timeout errors, which quote
    nothing a client sent; a database error keeps its SQLSTATE.
Job lines
    The job worker names each job with its arguments (a phone number to
    text, a callback's request uuid); the values are replaced, the names
    kept.

:func:`install` adds the filters to those loggers, once.
"""

from __future__ import annotations

import logging
import re
import traceback
from urllib.parse import unquote_plus

import procrastinate.worker

#: Loggers that write request lines: uvicorn's access log and httpx's.
REQUEST_LOGGERS = ("uvicorn.access", "httpx")
#: Loggers that write tracebacks of errors survived, and the job worker's.
JOB_LOGGERS = (
    "procrastinate.worker",
    f"procrastinate.worker.{procrastinate.worker.WORKER_NAME}",
)
ERROR_LOGGERS = ("uvicorn.error", *JOB_LOGGERS)

#: Query parameters whose values never reach a log: secrets first, then
#: personal data. A Rails-style name counts by any part (``user[email]``).
HIDDEN_PARAMETERS = frozenset(
    {"api_key", "token", "code", "verification_code", "password", "secret"}
    | {"phone_number", "cellphone", "email", "to"}
)

_VERIFY_PATH = re.compile(r"(/protected/json/verify/)[^/?#\s\"]*")
_MARK = "/protected/json/verify/"
_QUERY_PAIR = re.compile(r"(?<=[?&;])([^=&;#\s\"?]+)=([^&;#\s\"]*)")
_NAME_PARTS = re.compile(r"[^\[\]]+")
# A job as the worker names it: task[id](name=value, ...).
_JOB_CALL = re.compile(r"(\b[\w:.]+\[\d+\])\(([^()]*(?:\([^()]*\)[^()]*)*)\)")
_ARGUMENT_NAME = re.compile(r"(?:^|, )(\w+)=")
#: Errors whose message is about a connection or a clock, never about a
#: request's data, so it is worth keeping.
_MESSAGE_KEPT = (ConnectionError, TimeoutError)


def _hidden_value(pair: re.Match[str]) -> str:
    name = unquote_plus(pair.group(1)).lower()
    if any(part in HIDDEN_PARAMETERS for part in _NAME_PARTS.findall(name)):
        return f"{pair.group(1)}=[redacted]"
    return pair.group(0)


def redact(text: str) -> str:
    """A request line without the verify code and hidden parameters' values."""
    if _MARK in text:
        text = _VERIFY_PATH.sub(r"\1[code]", text)
    if "=" in text:
        text = _QUERY_PAIR.sub(_hidden_value, text)
    return text


def _needs_redacting(text: str) -> bool:
    return _MARK in text or ("?" in text and "=" in text)


class RedactRequestLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and _needs_redacting(record.msg):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_arg(arg) for arg in record.args)
        return True


def _redacted_arg(arg: object) -> object:
    # httpx passes its URL object; anything whose text has a URL is redacted.
    if isinstance(arg, bytes | int | float):
        return arg
    text = str(arg)
    return redact(text) if _needs_redacting(text) else arg


def _described(error: BaseException) -> str:
    kind = type(error)
    name = f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")
    if isinstance(error, _MESSAGE_KEPT):
        return f"{name}: {error}"
    state = getattr(error, "sqlstate", None) or getattr(
        getattr(error, "orig", None), "sqlstate", None
    )
    where = f"; SQLSTATE {state}" if state else ""
    return f"{name}: [message withheld: it may quote request data{where}]"


_LINKS = {
    "cause": "\nThe above exception was the direct cause of the following "
    "exception:\n\n",
    "context": "\nDuring handling of the above exception, another exception "
    "occurred:\n\n",
}


def _chain(error: BaseException) -> list[tuple[BaseException, str]]:
    """``error`` and the exceptions before it, oldest first, each with how it
    follows the one before it (``cause``, ``context`` or nothing)."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        before: BaseException | None = None
        link = ""
        if current.__cause__ is not None:
            before, link = current.__cause__, "cause"
        elif current.__context__ is not None and not current.__suppress_context__:
            before, link = current.__context__, "context"
        if before is not None and id(before) in seen:
            before, link = None, ""
        chain.append((current, link))
        current = before
    return chain[::-1]


def withheld_traceback(error: BaseException) -> str:
    """``error``'s traceback as Python prints it, each message as described."""
    parts: list[str] = []
    for each, link in _chain(error):
        if link:
            parts.append(_LINKS[link])
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(each.__traceback__))
        parts.append(_described(each) + "\n")
        if isinstance(each, BaseExceptionGroup):
            for number, inner in enumerate(each.exceptions, 1):
                indented = withheld_traceback(inner).replace("\n", "\n    ")
                parts.append(f"  sub-exception {number}:\n    {indented}\n")
    return "".join(parts).rstrip("\n")


class WithholdErrorData(logging.Filter):
    """Writes a record's traceback with :func:`withheld_traceback`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = withheld_traceback(record.exc_info[1])
        return True


def hide_job_arguments(text: str) -> str:
    """``task[1](to='+1...', text='...')`` as ``task[1](to=..., text=...)``."""

    def names_only(call: re.Match[str]) -> str:
        names = _ARGUMENT_NAME.findall(call.group(2))
        return f"{call.group(1)}({', '.join(f'{name}=...' for name in names)})"

    return _JOB_CALL.sub(names_only, text)


class HideJobArguments(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "](" in record.msg:
            record.msg = hide_job_arguments(record.msg)
        return True


def _add_once(names: tuple[str, ...], kind: type[logging.Filter]) -> None:
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in target.filters):
            target.addFilter(kind())


def install() -> None:
    """Add the filters to their loggers (once)."""
    _add_once(REQUEST_LOGGERS, RedactRequestLines)
    _add_once(ERROR_LOGGERS, WithholdErrorData)
    _add_once(JOB_LOGGERS, HideJobArguments)
