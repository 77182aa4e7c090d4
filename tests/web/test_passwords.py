"""Passwords are hashed with argon2id and checked without telling which part failed."""

from __future__ import annotations

from argon2 import PasswordHasher

from pushgate.web.passwords import check_password, hash_password


async def test_hashes_are_argon2id_and_salted() -> None:
    first = await hash_password("a long enough password")
    second = await hash_password("a long enough password")

    assert first.startswith("$argon2id$")
    assert first != second


async def test_the_right_password_matches_and_a_wrong_one_does_not() -> None:
    stored = await hash_password("a long enough password")

    assert (await check_password(stored, "a long enough password")).matches
    assert not (await check_password(stored, "a long enough passworD")).matches
    assert not (await check_password(stored, "")).matches


async def test_no_account_and_a_broken_hash_never_match() -> None:
    assert not (await check_password(None, "anything at all")).matches
    assert not (await check_password("not a hash", "anything at all")).matches


async def test_a_weaker_hash_is_replaced_on_success() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash("old password here")

    check = await check_password(weak, "old password here")

    assert check.matches
    assert check.new_hash is not None and check.new_hash.startswith("$argon2id$")
    assert "old password" not in repr(check)
