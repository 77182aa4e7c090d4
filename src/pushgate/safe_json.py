"""Reading JSON request bodies without trusting them.

Every JSON body pushgate accepts (the approval service's parameters, the
authenticator's calls, the site's callback) goes through here, so one set of
rules holds everywhere:

* The body is read in chunks and refused as soon as it is larger than the
  caller's limit, so an endless body is never held in memory.
* Nesting deeper than :data:`MAX_DEPTH` is refused by a scan of the brackets
  outside strings *before* the parser runs: Python's parser recurses once per
  level and would fail with ``RecursionError`` a few thousand levels down.
* ``NaN``, ``Infinity`` and numbers too large for a float are refused:
  PostgreSQL's ``jsonb`` has no such values.

:func:`loads` raises :class:`UnsafeJson` (a ``ValueError``) with a one-sentence
message; :func:`read_object` turns every refusal into a :class:`BodyRefusal`
value with the HTTP status to answer.
"""

from __future__ import annotations

import json
import math
import operator
import re
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import Any

from starlette.requests import Request

#: The deepest nesting of arrays and objects accepted; pushgate's own bodies
#: are at most four levels deep.
MAX_DEPTH = 32
#: The most digits a whole number may have.
MAX_DIGITS = 40

# A JSON string, or an unterminated one running to the end (matched whole,
# so the scan stays linear however many quotes a body holds).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
# Openers become 2 and closers 0, so "minus one" is the change in depth.
_DEPTH_STEP = str.maketrans({"[": "\x02", "{": "\x02", "]": "\x00", "}": "\x00"})


class UnsafeJson(ValueError):
    """A body that is not JSON pushgate accepts; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class BodyRefusal:
    """Why a request body was refused, and the HTTP status that says so."""

    status_code: int
    message: str


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects in ``text`` nest more than ``limit`` deep.

    Strings are dropped first (their brackets do not nest), then the depth
    after each remaining bracket is summed up in C, not in a Python loop.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= limit:
        return False
    steps = brackets.translate(_DEPTH_STEP).encode("ascii")
    deepest: int = max(accumulate(map(operator.sub, steps, repeat(1))))
    return deepest > limit


def _no_constants(name: str) -> Any:
    raise UnsafeJson(
        f"The JSON body holds {name}, which is not a number; send a finite number."
    )


def _whole(text: str) -> int:
    # Converting a long digit string costs time that grows with its square.
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise UnsafeJson(
            f"The JSON number {text[:20]}... has more than {MAX_DIGITS} digits; "
            "send a smaller number."
        )
    return int(text)


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise UnsafeJson(
            f"The JSON number {text[:20]} is too large; send a smaller number."
        )
    return number


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` under the rules in the module's docstring."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafeJson("The JSON body is not UTF-8 text; send UTF-8.") from None
    if nests_deeper_than(data, max_depth):
        raise UnsafeJson(
            f"The JSON body nests arrays or objects more than {max_depth} levels "
            "deep; send a flatter body."
        )
    try:
        value = json.loads(
            data,
            parse_constant=_no_constants,
            parse_float=_finite,
            parse_int=_whole,
        )
    except UnsafeJson:
        raise
    except ValueError:
        raise UnsafeJson("The body is not valid JSON; send a JSON object.") from None
    return value


async def read_body(request: Request, max_bytes: int) -> bytes | None:
    """The request's body, or ``None`` as soon as it is longer than ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(max_bytes: int) -> BodyRefusal:
    return BodyRefusal(
        413, f"The request body is larger than {_size(max_bytes)}; send less."
    )


async def read_object(
    request: Request, max_bytes: int, *, max_depth: int = MAX_DEPTH
) -> dict[str, Any] | BodyRefusal:
    """The request's JSON object, or why the body is refused."""
    raw = await read_body(request, max_bytes)
    if raw is None:
        return too_large(max_bytes)
    try:
        value = loads(raw, max_depth=max_depth)
    except UnsafeJson as error:
        return BodyRefusal(400, error.message)
    if not isinstance(value, dict):
        return BodyRefusal(400, "The request body must be a JSON object.")
    return value


def _size(max_bytes: int) -> str:
    if max_bytes % 1024 == 0:
        return f"{max_bytes // 1024} KB"
    return f"{max_bytes} bytes"
