"""The ``X-Authy-Signature`` scheme that signs approval callbacks.

The signature is ``base64(HMAC-SHA256(api_key, data))`` where ``data`` is::

    nonce | METHOD | url without its query | params

and ``params`` is the JSON body flattened to form-encoded ``key=value`` pairs,
sorted as strings and joined with ``&``. Nested keys are written ``a[b][c]``,
list items ``a[]``, with brackets and values percent-encoded and spaces as
``+``. ``null`` becomes an empty value, booleans ``true``/``false``, and empty
objects and lists disappear. A bracketed segment of digits only is written
``[]`` as well, because that is how Authy's published clients rebuild it, and
a signature must match what they compute.

Both sides live here: the approval service signs, the web app verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

_DIGIT_SEGMENT = re.compile(r"%5B[0-9]*%5D")


def _encode(text: str) -> str:
    return quote_plus(text, safe="")


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _pairs(value: Any, key: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for child_key, child in value.items():
            yield from _pairs(child, key + _encode(f"[{child_key}]"))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _pairs(item, key + "%5B%5D")
    else:
        yield f"{key}={_encode(_scalar(value))}"


def canonical_params(body: Mapping[str, Any]) -> str:
    pairs = [
        pair
        for top_key, value in body.items()
        for pair in _pairs(value, _encode(str(top_key)))
    ]
    return "&".join(sorted(_DIGIT_SEGMENT.sub("%5B%5D", pair) for pair in pairs))


def url_without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def sign(
    api_key: str, nonce: str, method: str, url: str, body: Mapping[str, Any]
) -> str:
    data = "|".join(
        (nonce, method.upper(), url_without_query(url), canonical_params(body))
    )
    digest = hmac.new(api_key.encode(), data.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(
    signature: str,
    api_key: str,
    nonce: str,
    method: str,
    url: str,
    body: Mapping[str, Any],
) -> bool:
    """Whether ``signature`` is right, compared in constant time."""
    expected = sign(api_key, nonce, method, url, body)
    return hmac.compare_digest(expected.encode(), signature.encode())
