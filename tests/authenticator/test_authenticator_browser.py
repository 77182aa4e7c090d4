"""The authenticator in real Chromium: WebCrypto keys, IndexedDB, live requests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest
from playwright.sync_api import Page, Route, expect

from pushgate.service import totp
from tests.service.conftest import NUMBERS, ServiceClient

pytestmark = pytest.mark.browser


def _enroll(page: Page, app: ServiceClient) -> int:
    user_id = app.create_user()
    link = app.client.post(f"/protected/json/users/{user_id}/enrollment").json()
    page.goto(link["enrollment"]["url"])
    page.wait_for_url("**/authenticator/")
    expect(page.locator('[data-role="status"]')).to_have_text("Waiting for requests.")
    return user_id


def test_enroll_then_approve_a_request_that_appears_live(
    page: Page, service_app: ServiceClient, live_server
) -> None:
    user_id = _enroll(page, service_app)
    status = service_app.client.get(f"/protected/json/users/{user_id}/status").json()
    assert status["status"]["registered"] is True
    # The key never left the browser: IndexedDB holds a non-extractable key.
    extractable = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const open = indexedDB.open("pushgate-authenticator", 1);
            open.onsuccess = () => {
                const get = open.result.transaction("keys").objectStore("keys")
                    .get("device-key");
                get.onsuccess = () => resolve(get.result.privateKey.extractable);
                get.onerror = () => reject(get.error);
            };
        })"""
    )
    assert extractable is False

    uuid = service_app.approval_request(
        user_id,
        message="Log in to Example",
        details={"Email": "ada@example.com", "IP": "203.0.113.9"},
        seconds_to_expire=120,
    )

    item = page.locator(f'[data-uuid="{uuid}"]')
    expect(item).to_be_visible()
    expect(item.locator('[data-field="message"]')).to_have_text("Log in to Example")
    expect(item).to_contain_text("ada@example.com")
    expect(item).to_contain_text("203.0.113.9")
    expect(item.locator('[data-field="countdown"]')).to_have_text(
        re.compile(r"^[12]:\d\d$")
    )

    item.locator(f'[data-number="{NUMBERS[uuid]}"]').click()

    expect(item.locator('[data-field="result"]')).to_have_text("Approved")
    assert service_app.approval_status(uuid) == "approved"


def test_deny_and_the_totp_code(
    page: Page, service_app: ServiceClient, live_server
) -> None:
    user_id = _enroll(page, service_app)
    uuid = service_app.approval_request(user_id, message="Log in?")
    item = page.locator(f'[data-uuid="{uuid}"]')

    item.locator('[data-action="denied"]').click()

    expect(item.locator('[data-field="result"]')).to_have_text("Denied")
    assert service_app.approval_status(uuid) == "denied"

    async def secret() -> str:
        async with live_server.runtime.sessions() as session:
            found = await totp.get_secret(
                session, live_server.runtime.settings.resolved_secret_key(), user_id
            )
            assert found is not None
            return found.secret

    generator = pyotp.TOTP(live_server.call(secret))
    shown = page.locator(".auth-account-code")
    expect(shown).to_have_text(re.compile(r"^\d{6}$"))
    now = datetime.now(UTC)
    assert shown.text_content() in {
        generator.at(now),
        generator.at(now.timestamp() - 30),
        generator.at(now.timestamp() + 30),
    }


def test_a_browser_that_is_not_enrolled_is_told_so(page: Page, live_server) -> None:
    page.goto(live_server.base_url + "/authenticator/")

    expect(page.locator('[data-role="not-enrolled"]')).to_be_visible()


def test_a_spent_link_is_refused(
    page: Page, service_app: ServiceClient, make_device
) -> None:
    user_id = service_app.create_user()
    url = service_app.client.post(f"/protected/json/users/{user_id}/enrollment").json()[
        "enrollment"
    ]["url"]
    assert make_device().enroll(url.split("#", 1)[1]).status_code == 200

    page.goto(url)

    expect(page.locator('[data-role="error"]')).to_contain_text("already used")
    assert "#" not in page.url


def test_tapping_a_request_a_newer_one_replaced_says_so(
    page: Page, service_app: ServiceClient, live_server
) -> None:
    # The page's stream, replayed from snapshots; frozen, it stands for a
    # phone that missed an update (asleep, or its connection dropped).
    frozen: list[str] = []

    def events(route: Route) -> None:
        if not frozen:
            snapshot = route.fetch(
                url=live_server.base_url + "/authenticator/api/requests"
            )
            body = f"retry: 200\nevent: requests\ndata: {snapshot.text()}\n\n"
        else:
            body = frozen[0]
        route.fulfill(
            status=200, headers={"Content-Type": "text/event-stream"}, body=body
        )
        if freeze and not frozen:
            frozen.append(body)

    freeze: list[bool] = []
    page.route("**/authenticator/api/events", events)
    user_id = service_app.create_user()
    link = service_app.client.post(f"/protected/json/users/{user_id}/enrollment")
    page.goto(link.json()["enrollment"]["url"])
    page.wait_for_url("**/authenticator/")
    older = service_app.approval_request(user_id, message="Log in?")
    item = page.locator(f'[data-uuid="{older}"]')
    expect(item).to_be_visible()
    freeze.append(True)
    page.wait_for_timeout(600)  # the next replay, showing the older request, is kept
    service_app.approval_request(user_id, message="Log in again?")
    page.wait_for_timeout(600)
    expect(item).to_be_visible()

    item.locator(f'[data-number="{NUMBERS[older]}"]').click()

    expect(item.locator('[data-field="result"]')).to_have_text(
        "This request was replaced by a newer one; answer the newest request."
    )
    assert service_app.approval_status(older) == "expired"
