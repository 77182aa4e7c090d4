"""Two accounts never share one user of the approval service.

The service answers the same country code and phone number with the same
user; an account holding another account's service user could enroll its own
phone for it and approve that account's logins.
"""

from __future__ import annotations

import re
import secrets

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from pushgate import clock
from pushgate.db.migrate import upgrade
from pushgate.db.models import ServiceDevice, ServiceUser, User
from tests.conftest import drop_database
from tests.web.conftest import PASSWORD, client_address, csrf_from

PHONE_TAKEN = (
    "This phone number belongs to another account; log in to that account, or "
    "use a different number."
)


def sign_up(site, email: str, country_code: str, phone: str):
    with site.client() as client:
        csrf = csrf_from(client.get("/signup").text)
        return client.post(
            "/signup",
            # Each from an address of its own: refusals are counted per address.
            headers=client_address(),
            data={
                "csrf_token": csrf,
                "name": "Phone Owner",
                "email": email,
                "password": PASSWORD,
                "country_code": country_code,
                "phone": phone,
            },
            follow_redirects=False,
        )


def phone_error(html: str) -> str | None:
    match = re.search(r'data-error-for="phone">([^<]*)<', html)
    return match.group(1) if match else None


def account(site, email: str) -> User | None:
    async def load() -> User | None:
        async with site.runtime.sessions() as db:
            return await db.scalar(select(User).where(User.email == email))

    return site.run(load)


def service_user(site, authy_id: int) -> ServiceUser:
    async def load() -> ServiceUser:
        async with site.runtime.sessions() as db:
            found = await db.get(ServiceUser, authy_id)
            assert found is not None
            return found

    return site.run(load)


def new_number() -> tuple[str, str]:
    """A fresh ten-digit number and the same number written with punctuation."""
    digits = str(4_150_000_000 + secrets.randbelow(10**9))
    return digits, f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


@pytest.mark.parametrize(
    ("country_code", "written"),
    [
        ("1", "{punctuated}"),
        ("+1", "{dashed}"),
        ("001", "{spaced}"),
        ("01", "{dotted}"),
    ],
)
def test_a_number_another_account_has_is_refused_however_it_is_written(
    site, country_code, written
) -> None:
    digits, punctuated = new_number()
    first_email = f"first-{secrets.token_hex(4)}@example.com"
    assert sign_up(site, first_email, "1", digits).status_code == 303
    first = account(site, first_email)
    assert first is not None and first.authy_id is not None

    other = written.format(
        punctuated=punctuated,
        dashed=f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        spaced=f" {digits[:3]} {digits[3:6]} {digits[6:]} ",
        dotted=f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
    )
    second_email = f"second-{secrets.token_hex(4)}@example.com"
    refused = sign_up(site, second_email, country_code, other)

    assert refused.status_code == 400
    assert phone_error(refused.text) == PHONE_TAKEN
    assert account(site, second_email) is None
    # The first account keeps its service user, and the service still knows
    # that user by the first account's email.
    assert account(site, first_email).authy_id == first.authy_id
    assert service_user(site, first.authy_id).email == first_email


def test_the_service_user_id_decides_whatever_the_site_stored(site) -> None:
    """A number the site wrote one way and the service matches another way
    (here: the first account's stored number differs from the one the service
    registered) is still refused, by the service user id it comes back as."""
    digits, _ = new_number()
    first_email = f"first-{secrets.token_hex(4)}@example.com"
    assert sign_up(site, first_email, "1", digits).status_code == 303
    first = account(site, first_email)

    async def store_differently() -> None:
        async with site.runtime.sessions.begin() as db:
            await db.execute(
                update(User).where(User.id == first.id).values(phone="0" + digits)
            )

    site.run(store_differently)

    second_email = f"second-{secrets.token_hex(4)}@example.com"
    refused = sign_up(site, second_email, "1", digits)

    assert refused.status_code == 400
    assert phone_error(refused.text) == PHONE_TAKEN
    assert account(site, second_email) is None
    assert account(site, first_email).authy_id == first.authy_id


def test_the_first_account_still_logs_in_after_a_refused_copy(site) -> None:
    digits, punctuated = new_number()
    email = f"owner-{secrets.token_hex(4)}@example.com"
    assert sign_up(site, email, "1", digits).status_code == 303
    assert sign_up(site, "copy-" + email, "1", punctuated).status_code == 400

    with site.client() as client:
        csrf = csrf_from(client.get("/login").text)
        response = client.post(
            "/login",
            data={"csrf_token": csrf, "email": email, "password": PASSWORD},
            follow_redirects=False,
        )
    # No phone is enrolled yet: the login goes on to a code, as its own.
    assert response.status_code == 303
    assert response.headers["location"] == "/login/code"


def test_the_database_refuses_two_accounts_with_one_service_user(site) -> None:
    owner = site.make_user()

    async def copy() -> None:
        async with site.runtime.sessions.begin() as db:
            db.add(
                User(
                    name="Copy",
                    email=f"copy-{secrets.token_hex(4)}@example.com",
                    password_hash="unusable",
                    country_code="1",
                    phone="2025550100",
                    authy_id=owner.authy_id,
                    created_at=clock.now(),
                )
            )

    with pytest.raises(IntegrityError):
        site.run(copy)

    async def holders() -> int:
        async with site.runtime.sessions() as db:
            return int(
                await db.scalar(
                    select(func.count())
                    .select_from(User)
                    .where(User.authy_id == owner.authy_id)
                )
                or 0
            )

    assert site.run(holders) == 1


def test_the_migration_leaves_a_shared_service_user_to_the_oldest_account(
    admin_database_url: str,
) -> None:
    name = f"pushgate_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_database_url).set(database=name)
    url = url.render_as_string(hide_password=False)
    try:
        upgrade(url, "0006")
        with psycopg.connect(url, autocommit=True) as connection:
            for email, authy_id in (
                ("owner@example.com", 7),
                ("copy@example.com", 7),
                ("alone@example.com", 8),
            ):
                connection.execute(
                    "INSERT INTO users (name, email, password_hash, country_code,"
                    " phone, authy_id, created_at)"
                    " VALUES ('x', %s, 'x', '1', '2025550100', %s, now())",
                    (email, authy_id),
                )
        upgrade(url, "0007")
        with psycopg.connect(url) as connection:
            rows = dict(connection.execute("SELECT email, authy_id FROM users"))
    finally:
        drop_database(admin_database_url, url)

    assert rows == {
        "owner@example.com": 7,
        "copy@example.com": None,
        "alone@example.com": 8,
    }


def test_an_account_sees_and_removes_only_its_own_phones(site) -> None:
    owner_email = f"owner-{secrets.token_hex(4)}@example.com"
    other_email = f"other-{secrets.token_hex(4)}@example.com"
    assert sign_up(site, owner_email, "1", new_number()[0]).status_code == 303
    owner = account(site, owner_email)
    device_id = secrets.token_hex(16)

    async def enroll() -> None:
        async with site.runtime.sessions.begin() as db:
            db.add(
                ServiceDevice(
                    id=device_id,
                    user_id=owner.authy_id,
                    name="owner's phone",
                    public_key="unused",
                    token_hash=secrets.token_hex(32),
                    created_at=clock.now(),
                )
            )

    site.run(enroll)

    with site.client() as other:
        csrf = csrf_from(other.get("/signup").text)
        signed_up = other.post(
            "/signup",
            headers=client_address(),
            data={
                "csrf_token": csrf,
                "name": "Other",
                "email": other_email,
                "password": PASSWORD,
                "country_code": "1",
                "phone": new_number()[0],
            },
        )
        assert signed_up.status_code == 303
        page = other.get("/account")
        removed = other.post(
            f"/account/devices/{device_id}/remove",
            data={"csrf_token": csrf_from(page.text)},
        )

    assert device_id not in page.text
    assert removed.status_code == 303

    async def revoked() -> object:
        async with site.runtime.sessions() as db:
            device = await db.get(ServiceDevice, device_id)
            assert device is not None
            return device.revoked_at

    assert site.run(revoked) is None
