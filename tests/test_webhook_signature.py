"""The X-Authy-Signature scheme against the published examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pushgate import webhook_signature

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
_vectors_file = VECTORS / "authy-webhook-signatures.json"
if not _vectors_file.exists():  # a checkout inside the repository's own folder
    _vectors_file = Path(__file__).parent / "vectors" / "authy-webhook-signatures.json"
PUBLISHED = json.loads(_vectors_file.read_text())["vectors"]


@pytest.mark.parametrize("vector", PUBLISHED, ids=lambda v: v["signature"][:8])
def test_published_signatures_are_reproduced(vector: dict) -> None:
    signature = webhook_signature.sign(
        vector["api_key"],
        vector["nonce"],
        vector["method"],
        vector["url"],
        vector["body"],
    )

    assert signature == vector["signature"]


@pytest.mark.parametrize("vector", PUBLISHED, ids=lambda v: v["signature"][:8])
def test_published_signatures_verify(vector: dict) -> None:
    assert webhook_signature.verify(
        vector["signature"],
        vector["api_key"],
        vector["nonce"],
        vector["method"],
        vector["url"],
        vector["body"],
    )


def test_any_change_breaks_the_signature() -> None:
    vector = PUBLISHED[0]
    args = (vector["api_key"], vector["nonce"], vector["method"], vector["url"])
    good = webhook_signature.sign(*args, vector["body"])

    assert not webhook_signature.verify(good, "bar", *args[1:], vector["body"])
    assert not webhook_signature.verify(good, *args[:1], "1", *args[2:], vector["body"])
    assert not webhook_signature.verify(good, *args, {**vector["body"], "qux": "x"})
    assert not webhook_signature.verify(good[:-2] + "A=", *args, vector["body"])


def test_query_string_is_not_signed() -> None:
    body = {"status": "approved"}
    plain = webhook_signature.sign("k", "n", "POST", "https://a.example/cb", body)

    assert plain == webhook_signature.sign(
        "k", "n", "POST", "https://a.example/cb?x=1", body
    )


def test_canonical_params_follow_the_flattening_rules() -> None:
    body = {
        "b": {"c": None, "d": True, "e": False},
        "a": ["x y", "z/w"],
        "empty": {},
        "none": [],
        "n": 5,
    }

    assert webhook_signature.canonical_params(body) == (
        "a%5B%5D=x+y&a%5B%5D=z%2Fw&b%5Bc%5D=&b%5Bd%5D=true&b%5Be%5D=false&n=5"
    )


def test_signature_from_official_client_agrees() -> None:
    """Authy's own Python client accepts what pushgate signs."""
    from authy.api import AuthyApiClient

    body = {
        "uuid": "b1",
        "status": "approved",
        "approval_request": {"transaction": {"hidden_details": {"x": "1 2"}}},
        "list": ["a", "b"],
        "flag": False,
    }
    url = "https://site.example/authy/callback"
    signature = webhook_signature.sign("secret-key", "1700000000", "POST", url, body)
    client = AuthyApiClient("secret-key", api_uri="http://127.0.0.1:9")

    assert client.one_touch.validate_one_touch_signature(
        signature, "1700000000", "POST", url, body
    )
