"""In headless Chromium: a denied push, then a texted code or a recovery code;
and totp.js against RFC 6238 and the server's own codes."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from pushgate import clock
from pushgate.service import totp
from tests.codes import browser_flows as flows
from tests.codes.site import Person, new_person
from tests.codes.test_totp import RFC_6238_VECTORS, SEEDS
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser


def _deny_and_use_a_code(page: Page, phone: Page, server: LiveServer) -> None:
    """Log in, deny the push on the phone, and open the code form."""
    expect(page.locator("#waiting")).to_have_attribute("data-state", "pending")
    flows.deny_on_phone(phone, flows.approval_uuid(server, page.context))
    modal = page.locator("#waiting")
    expect(modal).to_have_attribute("data-state", "denied")
    modal.locator("[data-role=use-code]").click()
    page.wait_for_url(server.base_url + "/login/code")
    expect(page.locator("[data-role=why]")).to_contain_text("denied on your phone")


def _code_from_outbox(outbox: Page, server: LiveServer, number: str) -> str:
    """Read the newest message to ``number`` on the outbox page."""
    deadline = time.monotonic() + 15
    while True:
        outbox.goto(f"{server.base_url}/outbox?to={number.replace('+', '%2B')}")
        bodies = outbox.locator(".outbox-message .outbox-body")
        if bodies.count():
            match = re.search(r"\b\d{7}\b", bodies.first.inner_text())
            assert match, bodies.first.inner_text()
            return match.group(0)
        assert time.monotonic() < deadline, "the text never reached the outbox"
        outbox.wait_for_timeout(200)


def _enrolled_person(
    new_context: Callable[..., BrowserContext], server: LiveServer
) -> tuple[Person, Page, Page]:
    person = new_person()
    page = new_context().new_page()
    phone = new_context().new_page()
    flows.sign_up(page, server, person)
    flows.enroll_phone(page, phone)
    return person, page, phone


def test_after_a_denied_push_a_texted_code_logs_in(
    new_context: Callable[..., BrowserContext], site_server: LiveServer
) -> None:
    person, page, phone = _enrolled_person(new_context, site_server)
    flows.log_out(page, site_server)
    flows.log_in(page, site_server, person)
    _deny_and_use_a_code(page, phone, site_server)

    page.click("[data-role=send-sms]")
    page.wait_for_url(site_server.base_url + "/login/code")
    notice = page.locator("[data-role=code-notice]")
    expect(notice).to_contain_text("We texted a code")
    expect(notice).to_contain_text(person.phone[-2:])
    # The resend waits: both buttons are off, and the page says for how long.
    expect(page.locator("[data-role=send-sms]")).to_be_disabled()
    expect(page.locator("[data-role=send-call]")).to_be_disabled()
    expect(page.locator("[data-role=cooldown]")).to_be_visible()

    code = _code_from_outbox(new_context().new_page(), site_server, "+1" + person.phone)
    page.fill("#code", code)
    page.click("form[data-form=code] button[type=submit]")
    page.wait_for_url(site_server.base_url + "/account")
    expect(page.locator("h1")).to_contain_text(person.name)


def test_a_recovery_code_logs_in_once(
    new_context: Callable[..., BrowserContext], site_server: LiveServer
) -> None:
    person, page, phone = _enrolled_person(new_context, site_server)

    # The first account page after enrolling (where the enrollment page
    # moved on to by itself) shows the codes, that once.
    listed = page.locator("[data-role=recovery-list] code")
    expect(listed).to_have_count(10)
    codes = listed.all_inner_texts()
    page.reload()
    expect(page.locator("[data-role=recovery-list]")).to_have_count(0)
    expect(page.locator("[data-role=recovery-left]")).to_contain_text("10 of 10")

    flows.log_out(page, site_server)
    flows.log_in(page, site_server, person)
    _deny_and_use_a_code(page, phone, site_server)
    page.fill("#code", codes[0])
    page.click("form[data-form=code] button[type=submit]")
    page.wait_for_url(site_server.base_url + "/account")
    expect(page.locator("[data-role=recovery-left]")).to_contain_text("9 of 10")

    flows.log_out(page, site_server)
    flows.log_in(page, site_server, person)
    _deny_and_use_a_code(page, phone, site_server)
    page.fill("#code", codes[0])
    page.click("form[data-form=code] button[type=submit]")
    notice = page.locator("[data-role=code-notice]")
    expect(notice).to_contain_text("not right or was already used")
    assert page.url == site_server.base_url + "/login/code"


def test_totp_js_matches_rfc_6238_and_the_server(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.base_url + "/healthz")
    page.add_script_tag(url="/static/totp.js")

    sha1 = base64.b32encode(SEEDS["sha1"]).decode()
    for unix_time, expected, _, _ in RFC_6238_VECTORS:
        code = page.evaluate(
            "([s, t]) => window.pushgateTotp.code(s, t * 1000, {digits: 8})",
            [sha1, unix_time],
        )
        assert code == expected, unix_time

    secret = totp.TotpSecret(secret=totp.new_secret(), digits=6)
    for unix_time in (0, 59, 1_700_000_000, 4_102_444_800):
        at = datetime.fromtimestamp(unix_time, UTC)
        code = page.evaluate(
            "([s, t]) => window.pushgateTotp.code(s, t)",
            [secret.secret, unix_time * 1000],
        )
        assert code == secret.code(at)

    assert page.evaluate("window.pushgateTotp.secondsLeft(61000)") == 29
    refused = page.evaluate(
        "window.pushgateTotp.code('not base32!', 0).then(() => '', e => e.message)"
    )
    assert "not base32" in refused


def test_totp_js_fills_an_element_with_the_rolling_code(
    page: Page, live_server: LiveServer
) -> None:
    secret = totp.TotpSecret(secret=totp.new_secret(), digits=6)
    page.goto(live_server.base_url + "/healthz")
    page.evaluate(
        """(s) => {
            const output = document.createElement("output");
            output.id = "rolling";
            output.setAttribute("data-pushgate-totp", s);
            const left = document.createElement("span");
            left.setAttribute("data-pushgate-totp-left", "rolling");
            document.body.append(output, left);
        }""",
        secret.secret,
    )
    page.add_script_tag(url="/static/totp.js")
    shown = page.locator("#rolling")
    expect(shown).to_have_text(re.compile(r"^\d{6}$"))
    now = clock.now()
    possible = {
        secret.code(now),
        secret.code(datetime.fromtimestamp(now.timestamp() + 2, UTC)),
    }
    assert shown.inner_text() in possible
    left = int(page.locator("[data-pushgate-totp-left]").inner_text())
    assert 1 <= left <= 30
