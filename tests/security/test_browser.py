"""Number matching and Deny and report in headless Chromium, under the strict
Content-Security-Policy: no page may trip it."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.flows import (
    approval_uuid,
    enroll_phone,
    log_in,
    log_out,
    new_person,
    number_to_match,
    sign_up,
)

pytestmark = pytest.mark.browser


class PolicyViolations:
    """Console reports of anything the Content-Security-Policy refused."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("console", self._console)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.seen.append(f"{message.location.get('url')}: {message.text}")


def phone_request(phone: Page, uuid: str):
    item = phone.locator(f"li.auth-request[data-uuid='{uuid}']")
    expect(item).to_be_visible()
    expect(item).to_have_attribute("data-numbers", "")
    return item


def test_number_matching_and_deny_and_report(new_context, secure_server) -> None:
    violations = PolicyViolations()
    person = new_person()
    page = violations.watch(new_context().new_page())
    phone = violations.watch(new_context().new_page())
    sign_up(page, secure_server, person)
    enroll_phone(page, phone)
    log_out(page, secure_server)

    # A decoy denies the login and says the number was wrong.
    log_in(page, secure_server, person)
    number = number_to_match(page)
    assert number is not None and len(number) == 2
    item = phone_request(phone, approval_uuid(secure_server, page.context))
    choices = item.locator("button[data-number]").all_inner_texts()
    assert len(choices) == 3 and number in [c.strip() for c in choices]
    # Without a number there is no plain Approve to tap.
    expect(item.locator("button[data-action='approved']")).to_be_hidden()
    decoy = next(c.strip() for c in choices if c.strip() != number)
    item.locator(f"button[data-number='{decoy}']").click()
    expect(item).to_have_attribute("data-state", "denied")
    expect(page.locator("#waiting")).to_have_attribute("data-state", "denied")

    # The right number logs in.
    log_in(page, secure_server, person)
    number = number_to_match(page)
    item = phone_request(phone, approval_uuid(secure_server, page.context))
    item.locator(f"button[data-number='{number}']").click()
    page.wait_for_url(secure_server.base_url + "/account")
    security = page.locator("[data-role=security]")
    expect(security).to_contain_text("Push denied: the wrong number was picked")
    expect(security).to_contain_text("Push approved")
    log_out(page, secure_server)

    # Deny and report: denied, and the next login says pushes are paused.
    log_in(page, secure_server, person)
    item = phone_request(phone, approval_uuid(secure_server, page.context))
    item.locator("button[data-action='report']").click()
    expect(item).to_have_attribute("data-state", "denied")
    expect(page.locator("#waiting")).to_have_attribute("data-state", "denied")

    page.goto(secure_server.base_url + "/login")
    page.fill("#email", person.email)
    page.fill("#password", person.password)
    page.click("form[data-form=login] button[type=submit]")
    page.wait_for_url(secure_server.base_url + "/login/code")
    expect(page.locator("[data-role=code-notice]")).to_contain_text("paused")

    assert violations.seen == []
