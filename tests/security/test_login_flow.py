"""The whole login over HTTP: number matching, Deny and report, session fixation.

A person registered at the approval service with an enrolled device (a test
key pair, as the authenticator page holds one) logs in; the device answers
as the person would, and the service's signed callback reaches the site.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from pushgate import clock
from pushgate.db.models import LoginAttempt, ServiceApprovalRequest, User
from pushgate.web import sessions
from pushgate.web.passwords import hash_password
from tests.security.conftest import client_address
from tests.service.conftest import Device
from tests.web.conftest import PASSWORD, Site, csrf_from


@pytest.fixture(scope="module")
def site(secure_server) -> Site:
    return Site(secure_server)


@dataclass
class Person:
    user: User
    device: Device
    address: str


@pytest.fixture
def people(site: Site) -> Iterator[Callable[[], Person]]:
    made: list[Person] = []

    def make() -> Person:
        made.append(enrolled_person(site))
        return made[-1]

    yield make
    for person in made:
        person.device.close()


def enrolled_person(site: Site) -> Person:
    """A site user, registered at the service, with one enrolled device."""
    phone = str(2_000_000_000 + secrets.randbelow(10**9))
    api = httpx.Client(
        base_url=site.base_url,
        headers={"X-Authy-API-Key": site.runtime.service_api_key},
        timeout=10,
    )
    with api:
        created = api.post(
            "/protected/json/users/new",
            json={
                "user": {
                    "email": f"{phone}@example.com",
                    "cellphone": phone,
                    "country_code": "1",
                }
            },
        )
        authy_id = created.json()["user"]["id"]
        link = api.post(f"/protected/json/users/{authy_id}/enrollment").json()
    device = Device(site.base_url)
    assert device.enroll(link["enrollment"]["url"].split("#", 1)[1]).status_code == 200
    password_hash = site.run(lambda: hash_password(PASSWORD))

    async def create() -> User:
        async with site.runtime.sessions.begin() as db:
            user = User(
                name="Number Matcher",
                email=f"{phone}@example.com",
                password_hash=password_hash,
                country_code="1",
                phone=phone,
                authy_id=authy_id,
                created_at=clock.now(),
            )
            db.add(user)
        return user

    return Person(site.run(create), device, client_address())


def log_in(site: Site, person: Person, client: httpx.Client) -> httpx.Response:
    headers = {"X-Forwarded-For": person.address}
    csrf = csrf_from(client.get("/login", headers=headers).text)
    return client.post(
        "/login",
        data={"csrf_token": csrf, "email": person.user.email, "password": PASSWORD},
        headers=headers,
        follow_redirects=False,
    )


def latest_attempt(site: Site, user_id: int) -> LoginAttempt:
    async def load() -> LoginAttempt:
        async with site.runtime.sessions() as db:
            return await db.scalar(
                select(LoginAttempt)
                .where(LoginAttempt.user_id == user_id)
                .order_by(LoginAttempt.created_at.desc())
                .limit(1)
            )

    return site.run(load)


def approval_row(site: Site, uuid: str) -> ServiceApprovalRequest:
    async def load() -> ServiceApprovalRequest:
        async with site.runtime.sessions() as db:
            return await db.get(ServiceApprovalRequest, uuid)

    return site.run(load)


def wait_for_status(site: Site, attempt_id: str, status: str) -> None:
    deadline = time.monotonic() + 15
    while site.attempt(attempt_id).status != status:
        assert time.monotonic() < deadline, f"attempt never became {status}"
        time.sleep(0.05)


def shown_number(waiting_page: str) -> int:
    match = re.search(r"data-number-match>(\d\d)<", waiting_page)
    assert match, "the waiting page shows no number to match"
    return int(match.group(1))


def pending_choices(device: Device, uuid: str) -> list[int]:
    state = device.client.get("/authenticator/api/requests").json()
    request = next(r for r in state["requests"] if r["uuid"] == uuid)
    return request["number_choices"]


def test_the_right_number_logs_in_with_a_new_session_id(site: Site, people) -> None:
    person = people()
    # An attacker plants a session id of their own in the victim's browser.
    planted, _ = site.make_session()
    with site.client(planted) as client:
        assert log_in(site, person, client).headers["location"] == "/login/waiting"
        waiting = client.get("/login/waiting")
        number = shown_number(waiting.text)
        attempt = latest_attempt(site, person.user.id)
        assert attempt.number_match == number

        choices = pending_choices(person.device, attempt.approval_uuid)
        assert number in choices and len(set(choices)) == 3
        answer = person.device.answer(attempt.approval_uuid, "approved", picked=number)
        assert answer.json()["status"] == "approved", answer.text
        wait_for_status(site, attempt.id, "approved")

        csrf = re.search(r'name="csrf-token" content="([^"]+)"', waiting.text)[1]
        completed = client.post("/login/complete", headers={"X-CSRF-Token": csrf})
        assert completed.status_code == 200, completed.text
        after = completed.cookies.get(sessions.COOKIE_NAME)

    assert after and after != planted
    # The planted id signs nobody in.
    old = site.session_row(planted)
    assert old is None or old.user_id is None
    assert site.session_row(after).user_id == person.user.id


def test_a_wrong_pick_denies_and_flags(site: Site, people) -> None:
    person = people()
    with site.client() as client:
        log_in(site, person, client)
        number = shown_number(client.get("/login/waiting").text)
    attempt = latest_attempt(site, person.user.id)
    decoy = next(
        n for n in pending_choices(person.device, attempt.approval_uuid) if n != number
    )

    answer = person.device.answer(attempt.approval_uuid, "approved", picked=decoy)
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["flagged"]) == ("denied", True)
    wait_for_status(site, attempt.id, "denied")
    row = approval_row(site, attempt.approval_uuid)
    assert (row.status, row.flagged, row.reason) == (
        "denied",
        True,
        "wrong number picked",
    )


def test_deny_and_report_pauses_pushes_and_says_so_at_the_next_login(
    site: Site, people
) -> None:
    person = people()
    with site.client() as client:
        log_in(site, person, client)
    attempt = latest_attempt(site, person.user.id)
    reported = person.device.answer(attempt.approval_uuid, "denied", report=True)
    assert reported.json()["flagged"] is True
    wait_for_status(site, attempt.id, "denied")
    row = approval_row(site, attempt.approval_uuid)
    assert row.flagged and "reported" in row.reason

    with site.client() as client:
        response = log_in(site, person, client)
        assert response.headers["location"] == "/login/code"
        page = client.get("/login/code").text
    assert "paused" in page and "Deny and report" in page
    # No new push was sent while paused.
    assert latest_attempt(site, person.user.id).approval_uuid is None

    async def service_events() -> list[str]:
        from pushgate.security import audit

        async with site.runtime.sessions() as db:
            rows = await audit.recent_service_events(db, person.user.authy_id)
            return [r.event for r in rows]

    events = site.run(service_events)
    assert "push_reported" in events and "push_refused" in events


def logged_in(site: Site, person: Person, client: httpx.Client) -> None:
    log_in(site, person, client)
    waiting = client.get("/login/waiting")
    attempt = latest_attempt(site, person.user.id)
    number = shown_number(waiting.text)
    person.device.answer(attempt.approval_uuid, "approved", picked=number)
    wait_for_status(site, attempt.id, "approved")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', waiting.text)[1]
    assert client.post("/login/complete", headers={"X-CSRF-Token": csrf}).is_success


def test_the_account_page_shows_events_and_removes_a_phone(site: Site, people) -> None:
    person = people()
    with site.client() as client:
        # A wrong password first: the person should see it.
        headers = {"X-Forwarded-For": person.address}
        csrf = csrf_from(client.get("/login", headers=headers).text)
        client.post(
            "/login",
            data={"csrf_token": csrf, "email": person.user.email, "password": "nope"},
            headers=headers,
        )
        logged_in(site, person, client)

        page = client.get("/account").text
        assert f'data-device-id="{person.device.device_id}"' in page
        for line in (
            "Wrong password",
            "Push sent to your phone",
            "Push approved",
            "Logged in",
            "Phone enrolled",
        ):
            assert line in page, line
        assert person.address in page

        csrf = csrf_from(page)
        removed = client.post(
            f"/account/devices/{person.device.device_id}/remove",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert removed.status_code == 303
        page = client.get("/account").text
    assert f'data-device-id="{person.device.device_id}"' not in page
    assert "Phone removed" in page
    # The removed phone no longer answers.
    with site.client() as client:
        log_in(site, person, client)
    attempt = latest_attempt(site, person.user.id)
    assert (
        attempt.approval_uuid is None
        or person.device.answer(attempt.approval_uuid, "approved").status_code >= 400
    )
