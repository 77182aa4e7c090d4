"""The one JSON body reader: nesting, size and numbers are bounded before parsing."""

from __future__ import annotations

import json
import time

import pytest

from pushgate import safe_json


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = safe_json.MAX_DEPTH
    value = safe_json.loads("[" * depth + "]" * depth)

    for _ in range(depth - 1):
        value = value[0]
    assert value == []


@pytest.mark.parametrize("depth", [safe_json.MAX_DEPTH + 1, 3000, 30000, 100000])
@pytest.mark.parametrize(
    ("opener", "closer"), [("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")]
)
def test_deeper_nesting_is_refused_before_the_parser_recurses(
    depth: int, opener: str, closer: str
) -> None:
    body = (opener * depth + "1" + closer * depth).encode()

    with pytest.raises(safe_json.UnsafeJson) as refused:
        safe_json.loads(body)

    assert refused.value.message == (
        f"The JSON body nests arrays or objects more than {safe_json.MAX_DEPTH} "
        "levels deep; send a flatter body."
    )


def test_unclosed_deep_nesting_is_refused_too() -> None:
    with pytest.raises(safe_json.UnsafeJson, match="levels deep"):
        safe_json.loads(b"[" * 50000)


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = "[" * 500 + '\\"{' * 200 + "}" * 10
    assert safe_json.loads(json.dumps({"message": text})) == {"message": text}


def test_an_unterminated_string_is_invalid_json_not_a_hang() -> None:
    started = time.perf_counter()
    with pytest.raises(safe_json.UnsafeJson, match="not valid JSON"):
        safe_json.loads(b'["' + b'\\"[' * 20000)
    assert time.perf_counter() - started < 1


def test_a_body_of_many_shallow_arrays_is_scanned_quickly() -> None:
    body = b"[" + b"[]," * 20000 + b"[]]"
    started = time.perf_counter()
    assert len(safe_json.loads(body)) == 20001
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"a": NaN}', "NaN, which is not a number"),
        (b'{"a": Infinity}', "Infinity, which is not a number"),
        (b'{"a": -Infinity}', "-Infinity, which is not a number"),
        (b'{"a": 1e999}', "too large"),
        (b'{"a": -1e999}', "too large"),
        (b'{"a": ' + b"9" * 5000 + b"}", "more than 40 digits"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"{bad", "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_values_postgresql_cannot_store_are_refused(body: bytes, problem: str) -> None:
    with pytest.raises(safe_json.UnsafeJson, match=problem):
        safe_json.loads(body)


def test_ordinary_values_pass() -> None:
    body = {"n": 10**30, "f": 1.5, "t": "line\nand\ttab 😀", "l": [None, True]}
    assert safe_json.loads(json.dumps(body).encode()) == body
