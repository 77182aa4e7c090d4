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
* Text (keys and values) with a NUL, another control character (C0, DEL or
  C1; tab, line feed and carriage return are fine) or an unpaired surrogate
  is refused: PostgreSQL cannot store NUL, UTF-8 cannot encode a lone
  surrogate, and no field of pushgate's has a use for the other controls.
  :func:`character_problem` and :func:`find_bad_text` apply the same rule to
  text that arrives another way (query strings, forms, paths).

:func:`loads` raises :class:`UnsafeJson` (a ``ValueError``) with a one-sentence
message; :func:`read_object` turns every refusal into a :class:`BodyRefusal`
value with the HTTP status to answer.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Sequence
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
# NUL and the other controls except tab, LF and CR; lone surrogates (a
# Python str holds a surrogate only when it was unpaired in the JSON).
_BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

PathPart = str | int


class UnsafeJson(ValueError):
    """A body that is not JSON pushgate accepts; the message says why.

    For refused text, ``path`` names where it is (``("user", "email")``) and
    ``problem`` what is wrong with it (``"a NUL character"``); both are empty
    when the problem is the body as a whole.
    """

    def __init__(
        self, message: str, path: Sequence[PathPart] = (), problem: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = tuple(path)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class BodyRefusal:
    """Why a request body was refused, and the HTTP status that says so."""

    status_code: int
    message: str


def character_problem(text: str) -> str | None:
    """What makes ``text`` unacceptable, as a noun phrase, or ``None``."""
    found = _BAD_CHARACTER.search(text)
    if found is None:
        return None
    character = found.group()
    if character == "\x00":
        return "a NUL character"
    if "\ud800" <= character <= "\udfff":
        return "an unpaired surrogate"
    return f"the control character U+{ord(character):04X}"


def find_bad_text(value: Any) -> tuple[tuple[PathPart, ...], str] | None:
    """The path to the first key or text in ``value`` with a refused
    character and what the character is, or ``None`` when all text is fine."""
    stack: list[tuple[tuple[PathPart, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = character_problem(item)
            if problem is not None:
                return path, problem
        elif isinstance(item, dict):
            for key, child in item.items():
                key_problem = character_problem(str(key))
                if key_problem is not None:
                    return (*path, str(key)), key_problem
                stack.append(((*path, str(key)), child))
        elif isinstance(item, list | tuple):
            stack.extend(((*path, index), child) for index, child in enumerate(item))
    return None


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


def describe_path(path: Sequence[PathPart]) -> str:
    """``("user", "email")`` as ``user.email``, ``(0, "a")`` as ``[0].a``; keys
    are escaped as JSON escapes them, so a refused character is never echoed."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += "." + json.dumps(part[:40])[1:-1]
    return text.lstrip(".") or "the body"


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

    bad = find_bad_text(value)
    if bad is not None:
        path, problem = bad
        raise UnsafeJson(
            f"The JSON text at {describe_path(path)} contains {problem}; send "
            "printable text.",
            path,
            problem,
        )
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
