"""What a person does in the browser around the code login, step by step."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from pushgate.db.models import LoginAttempt, WebSession
from pushgate.web import sessions
from tests.codes.site import Person
from tests.support.server import LiveServer


def sign_up(page: Page, server: LiveServer, person: Person) -> None:
    page.goto(server.base_url + "/signup")
    page.fill("#name", person.name)
    page.fill("#email", person.email)
    page.fill("#password", person.password)
    page.fill("#country_code", "1")
    page.fill("#phone", person.phone)
    page.click("form[data-form=signup] button[type=submit]")
    page.wait_for_url(server.base_url + "/account")


def enroll_phone(page: Page, phone: Page) -> None:
    """From the account page, enroll ``phone`` (another browser) by its link."""
    page.click("form[data-form=enroll] button[type=submit]")
    link = page.locator("[data-role=enrollment-link]")
    expect(link).to_be_visible()
    url = link.get_attribute("href")
    assert url
    phone.goto(url)
    phone.wait_for_url(re.compile(r".*/authenticator/$"))
    # Once the phone is in, the page moves on to the account page by itself.
    page.wait_for_url(re.compile(r".*/account$"))


def log_out(page: Page, server: LiveServer) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url(server.base_url + "/")


def log_in(page: Page, server: LiveServer, person: Person) -> None:
    """Submit the password and land on the waiting modal."""
    page.goto(server.base_url + "/login")
    page.fill("#email", person.email)
    page.fill("#password", person.password)
    page.click("form[data-form=login] button[type=submit]")
    page.wait_for_url(server.base_url + "/login/waiting")


def approval_uuid(server: LiveServer, context: BrowserContext) -> str:
    """The approval request of the login waiting in ``context``."""
    token = next(
        c["value"] for c in context.cookies() if c["name"] == sessions.COOKIE_NAME
    )

    async def load() -> str:
        async with server.runtime.sessions() as db:
            data: dict[str, Any] | None = await db.scalar(
                select(WebSession.data).where(
                    WebSession.token_hash == sessions.hash_token(token)
                )
            )
            assert data is not None
            attempt = await db.get(LoginAttempt, data["attempt_id"])
            assert attempt is not None and attempt.approval_uuid
            return attempt.approval_uuid

    return server.call(load)


def deny_on_phone(phone: Page, request_uuid: str) -> None:
    """Tap Deny on the authenticator page for one request."""
    item = phone.locator(f"li.auth-request[data-uuid='{request_uuid}']")
    expect(item).to_be_visible()
    item.locator("button[data-action='denied']").click()
    expect(item).to_have_attribute("data-state", "denied")
