"""Request parameters as the Authy API accepted them.

A client may send parameters as a JSON object, as a form with Rails-style
bracketed names (``user[email]=...``, ``logos[][url]=...``), or in the query
string; all are merged into one nested dictionary, the body winning over the
query string. Nothing here trusts the input: sizes are bounded and a body
that cannot be read is an :class:`ApiError`, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from pushgate import safe_json
from pushgate.service.errors import (
    INVALID_REQUEST,
    ApiError,
    invalid_parameter,
    user_not_found,
)

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 4
MAX_STRING = 2000

_NAME = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def _bad_request(problem: str) -> ApiError:
    return ApiError(400, f"Invalid request: {problem}", INVALID_REQUEST)


def nest_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Rails-style nesting: ``a[b]=1`` becomes ``{"a": {"b": "1"}}``.

    ``a[]=1&a[]=2`` becomes a list; ``a[][k]=1&a[][k]=2`` a list of objects,
    a new object starting whenever a key repeats, as Rack builds them.
    """
    result: dict[str, Any] = {}
    for name, value in pairs:
        match = _NAME.match(name)
        if match is None:
            continue
        keys = [match.group(1), *_SEGMENT.findall(match.group(2))]
        if len(keys) > MAX_DEPTH + 1:
            raise _bad_request(f"parameter {name!r} is nested too deeply")
        _assign(result, keys, value)
    return result


def _assign(target: dict[str, Any], keys: list[str], value: str) -> None:
    head, rest = keys[0], keys[1:]
    if not rest:
        target[head] = value
        return
    if rest[0] == "":
        items = target.get(head)
        if not isinstance(items, list):
            items = target[head] = []
        if len(rest) == 1:
            items.append(value)
            return
        last = items[-1] if items and isinstance(items[-1], dict) else None
        if last is None or rest[1] in last:
            last = {}
            items.append(last)
        _assign(last, rest[1:], value)
        return
    child = target.get(head)
    if not isinstance(child, dict):
        child = target[head] = {}
    _assign(child, rest, value)


async def read_params(request: Request) -> dict[str, Any]:
    """Query string and body merged, the body's values winning."""
    params = nest_pairs(request.query_params.multi_items())
    body = await safe_json.read_body(request, MAX_BODY_BYTES)
    if body is None:
        raise ApiError(
            413, "Request body is larger than 64 KB; send less.", INVALID_REQUEST
        )
    if body.strip():
        params.update(_body_params(request, body))

    # The JSON reader checked its text; the query string and a form were not.
    bad = safe_json.find_bad_text(params)
    if bad is not None:
        raise _bad_text(*bad)
    return params


def _body_params(request: Request, body: bytes) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "application/json" or body.lstrip()[:1] == b"{":
        try:
            decoded = safe_json.loads(body)
        except safe_json.UnsafeJson as error:
            if error.path:
                raise _bad_text(error.path, error.problem) from None
            raise ApiError(400, error.message, INVALID_REQUEST) from None
        if not isinstance(decoded, dict):
            raise _bad_request("the JSON body must be an object")
        return decoded

    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise _bad_request("the body is not UTF-8 text") from None
    return nest_pairs(parse_qsl(text, keep_blank_values=True))


def _bad_text(path: Sequence[safe_json.PathPart], problem: str) -> ApiError:
    """No text with a NUL or other control character reaches the database."""
    return invalid_parameter(
        safe_json.describe_path(path), f"must not contain {problem}"
    )


def path_text(name: str, raw: str) -> str:
    """A path segment that names something (a uuid, a device id), unchanged;
    a NUL or other control character in it is a 400 naming the segment."""
    problem = safe_json.character_problem(raw)
    if problem is not None:
        raise invalid_parameter(name, f"must not contain {problem}")
    return raw


# --- typed readers -------------------------------------------------------------


def text(
    params: Mapping[str, Any],
    name: str,
    *,
    required: bool = True,
    max_length: int = MAX_STRING,
) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise invalid_parameter(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid_parameter(name, "must be a string")
    result = str(value).strip()
    if len(result) > max_length:
        raise invalid_parameter(name, f"must be at most {max_length} characters")
    return result


def integer(
    params: Mapping[str, Any],
    name: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise invalid_parameter(name, "must be a whole number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # ASCII digits only: \d and int() also take other scripts' digits (١٢٣).
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
        value = int(value)
    if not isinstance(value, int):
        raise invalid_parameter(name, "must be a whole number")
    if minimum is not None and value < minimum:
        raise invalid_parameter(name, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise invalid_parameter(name, f"must be at most {maximum}")
    return value


def boolean(params: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise invalid_parameter(name, "must be true or false")


def mapping(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An optional object of short values (details shown to a person)."""
    value = params.get(name)
    if value is None or value == "" or value == []:
        return {}
    if isinstance(value, str):
        try:
            value = safe_json.loads(value)
        except safe_json.UnsafeJson as error:
            if error.path:
                raise _bad_text((name, *error.path), error.problem) from None
            raise invalid_parameter(name, "must be a JSON object") from None
    if not isinstance(value, dict):
        raise invalid_parameter(name, "must be an object")
    return _clean_object(name, value, depth=1)


def _clean_object(name: str, value: dict[Any, Any], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise invalid_parameter(name, "is nested too deeply")
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        key_text = str(key)[:200]
        if isinstance(item, dict):
            cleaned[key_text] = _clean_object(name, item, depth + 1)
        elif item is None or isinstance(item, bool | int | float):
            cleaned[key_text] = item
        elif isinstance(item, str):
            cleaned[key_text] = item[:MAX_STRING]
        else:
            raise invalid_parameter(name, "values must be text, numbers or objects")
    return cleaned


def user_id(raw: str) -> int:
    """A user id from a path; anything but a positive number is not a user."""
    path_text("user_id", raw)
    if not re.fullmatch(r"[0-9]{1,15}", raw):
        raise user_not_found()
    return int(raw)
