"""TOTP: RFC 6238's published vectors, the otpauth URI, drift and replay rules."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from pushgate.db.models import ServiceTotp
from pushgate.service import totp

# RFC 6238 Appendix B: the seeds are these ASCII strings, 20/32/64 bytes long.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC_6238_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("unix_time", "sha1", "sha256", "sha512"), RFC_6238_VECTORS)
def test_rfc_6238_vectors(unix_time: int, sha1: str, sha256: str, sha512: str) -> None:
    at = datetime.fromtimestamp(unix_time, UTC)
    assert totp.totp(SEEDS["sha1"], at, digits=8) == sha1
    assert totp.totp(SEEDS["sha256"], at, digits=8, digest="sha256") == sha256
    assert totp.totp(SEEDS["sha512"], at, digits=8, digest="sha512") == sha512


def test_rfc_6238_sha1_vectors_through_a_base32_secret() -> None:
    secret = totp.TotpSecret(secret=base64.b32encode(SEEDS["sha1"]).decode(), digits=8)
    for unix_time, expected, _, _ in RFC_6238_VECTORS:
        assert secret.code(datetime.fromtimestamp(unix_time, UTC)) == expected


def test_otpauth_uri_is_read_by_pyotp_and_gives_the_same_codes() -> None:
    secret = totp.TotpSecret(secret=totp.new_secret(), digits=6)
    uri = secret.uri("pushgate", "ada@example.com")

    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    query = parse_qs(parts.query)
    assert query["secret"] == [secret.secret]
    assert query["issuer"] == ["pushgate"]
    assert query["digits"] == ["6"] and query["period"] == ["30"]

    independent = pyotp.parse_uri(uri)
    assert independent.issuer == "pushgate"
    assert independent.name == "ada@example.com"
    for offset in range(0, 600, 30):
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
        assert secret.code(at) == independent.at(at)


def test_new_secrets_are_160_bit_base32_and_differ() -> None:
    first, second = totp.new_secret(), totp.new_secret()
    assert first != second
    assert len(totp.secret_key(first)) == 20
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_secret_repr_hides_the_secret() -> None:
    secret = totp.TotpSecret(secret="JBSWY3DPEHPK3PXP", digits=6)
    assert "JBSWY3DPEHPK3PXP" not in repr(secret)


def test_one_step_of_drift_either_way_is_accepted_and_no_more() -> None:
    secret = totp.TotpSecret(secret=totp.new_secret(), digits=6)
    now = datetime(2026, 3, 1, 12, 0, 15, tzinfo=UTC)
    step = totp.step_at(now)
    key = totp.secret_key(secret.secret)
    for delta in (-1, 0, 1):
        code = totp.hotp(key, step + delta, 6)
        assert totp.matching_step(secret, code, now) == step + delta
    for delta in (-2, 2):
        code = totp.hotp(key, step + delta, 6)
        if code not in {totp.hotp(key, step + d, 6) for d in (-1, 0, 1)}:
            assert totp.matching_step(secret, code, now) is None


def test_malformed_codes_never_match() -> None:
    secret = totp.TotpSecret(secret=totp.new_secret(), digits=6)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    good = secret.code(now)
    for bad in ("", good[:5], good + "0", "abcdef", " " + good[1:]):
        assert totp.matching_step(secret, bad, now) is None


def _row(server_secret: str, secret: totp.TotpSecret) -> ServiceTotp:
    encrypted = (
        totp.fernet(server_secret, "totp secrets")
        .encrypt(secret.secret.encode())
        .decode()
    )
    return ServiceTotp(
        user_id=1,
        secret_encrypted=encrypted,
        digits=secret.digits,
        failures=0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_used_code_and_older_ones_are_refused() -> None:
    server_secret = "s" * 32
    secret = totp.TotpSecret(secret=totp.new_secret(), digits=6)
    row = _row(server_secret, secret)
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    with totp.clock.frozen(now):
        code = secret.code(now)
        assert totp.check_row(server_secret, row, code) is totp.TotpCheck.VALID
        assert totp.check_row(server_secret, row, code) is totp.TotpCheck.REPLAYED
        earlier = secret.code(now - timedelta(seconds=30))
        assert totp.check_row(server_secret, row, earlier) is totp.TotpCheck.REPLAYED
    later = now + timedelta(seconds=30)
    with totp.clock.frozen(later):
        assert (
            totp.check_row(server_secret, row, secret.code(later))
            is totp.TotpCheck.VALID
        )


def test_five_wrong_codes_lock_totp_for_a_while() -> None:
    server_secret = "s" * 32
    secret = totp.TotpSecret(secret=totp.new_secret(), digits=6)
    row = _row(server_secret, secret)
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    with totp.clock.frozen(now):
        left = [totp.record_failure(row) for _ in range(totp.MAX_FAILURES)]
        assert left == [4, 3, 2, 1, 0]
        # Even the right code is refused while locked.
        assert (
            totp.check_row(server_secret, row, secret.code(now))
            is totp.TotpCheck.LOCKED
        )
    after = now + totp.LOCK_TIME + timedelta(seconds=1)
    with totp.clock.frozen(after):
        assert (
            totp.check_row(server_secret, row, secret.code(after))
            is totp.TotpCheck.VALID
        )


def test_qr_code_is_an_svg_data_uri() -> None:
    uri = totp.TotpSecret(secret=totp.new_secret(), digits=6).uri("p", "a@b.c")
    data_uri = totp.qr_svg_data_uri(uri, 256)
    assert data_uri.startswith("data:image/svg+xml")
