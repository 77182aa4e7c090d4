"""The whole login in real browsers: sign up, enroll the phone, log out, log
in, answer on the phone, and watch the waiting page finish by itself."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Request, expect

from tests.e2e.flows import (
    approval_uuid,
    approve_on_phone,
    attempt_status,
    deny_on_phone,
    enroll_phone,
    log_in,
    log_out,
    new_person,
    number_to_match,
    sign_up,
    texted_code,
    waiting_in,
)

pytestmark = pytest.mark.browser


class Requests:
    """Every request a page makes, by path, from when recording starts."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.recording = False

    def __call__(self, request: Request) -> None:
        if self.recording:
            self.seen.append((request.method, urlsplit(request.url).path))

    def paths(self, method: str | None = None) -> list[str]:
        return [path for m, path in self.seen if method is None or m == method]


def enrolled_person(new_context, e2e_server):
    """A person signed up with an enrolled phone, and their two browsers."""
    person = new_person()
    page = new_context().new_page()
    phone = new_context().new_page()
    sign_up(page, e2e_server, person)
    enroll_phone(page, phone)
    return person, page, phone


def test_enrolling_moves_on_by_itself_to_the_account_and_its_recovery_codes(
    new_context, e2e_server
) -> None:
    person = new_person()
    page = new_context().new_page()
    phone = new_context().new_page()
    sign_up(page, e2e_server, person)
    requests = Requests()
    page.on("request", requests)
    requests.recording = True

    enroll_phone(page, phone)

    expect(page.locator("[data-role=recovery-list] code")).to_have_count(10)
    expect(page.locator("[data-role=enrolled]")).to_be_visible()
    # One stream told the page; it asked nothing meanwhile.
    assert requests.paths().count("/account/enroll/events") == 1
    pages = {p for p in requests.paths("GET") if not p.startswith("/static/")}
    assert pages == {"/account/enroll", "/account/enroll/events", "/account"}
    assert requests.paths("POST") == ["/account/enroll"]


def test_approving_on_the_phone_finishes_the_login_without_polling(
    new_context, e2e_server
) -> None:
    person, page, phone = enrolled_person(new_context, e2e_server)
    log_out(page, e2e_server)

    requests = Requests()
    page.on("request", requests)
    requests.recording = True
    log_in(page, e2e_server, person)
    expect(page.locator("#waiting")).to_have_attribute("data-state", "pending")
    loaded = len(requests.seen)
    # Wait a while, as a person would, to show nothing is asked meanwhile.
    page.wait_for_timeout(2000)
    while_waiting = requests.seen[loaded:]

    approve_on_phone(
        phone, approval_uuid(e2e_server, page.context), number_to_match(page)
    )
    page.wait_for_url(e2e_server.base_url + "/account")
    expect(page.locator("h1")).to_contain_text(person.name)

    assert while_waiting == []
    assert requests.paths().count("/authy/live_status") == 1
    assert requests.paths("POST") == ["/login", "/login/complete"]
    pages = {p for p in requests.paths("GET") if not p.startswith("/static/")}
    assert pages == {"/login", "/login/waiting", "/authy/live_status", "/account"}


def test_denying_on_the_phone_says_so_and_offers_the_next_step(
    new_context, e2e_server
) -> None:
    person, page, phone = enrolled_person(new_context, e2e_server)
    log_out(page, e2e_server)
    requests = Requests()
    page.on("request", requests)
    requests.recording = True
    log_in(page, e2e_server, person)
    expect(page.locator("#waiting")).to_have_attribute("data-state", "pending")

    deny_on_phone(phone, approval_uuid(e2e_server, page.context))

    modal = page.locator("#waiting")
    expect(modal).to_have_attribute("data-state", "denied")
    expect(modal.locator("[data-role=status]")).to_contain_text("denied on your phone")
    # The heading and the number to pick give way to the outcome.
    expect(modal.locator("h1")).to_have_text("The login was denied")
    expect(modal.locator("[data-role=number-match]")).to_be_hidden()
    retry = modal.locator("[data-role=retry]")
    expect(retry).to_be_visible()
    assert page.url == e2e_server.base_url + "/login/waiting"
    # The page closed its stream: past the reconnect delay it has not reopened.
    page.wait_for_timeout(e2e_server.runtime.settings.sse_retry_ms + 1000)
    assert requests.paths().count("/authy/live_status") == 1

    retry.click()
    page.wait_for_url(e2e_server.base_url + "/login")


def test_an_approval_before_the_stream_opens_still_logs_in(
    new_context, e2e_server
) -> None:
    person, page, phone = enrolled_person(new_context, e2e_server)
    log_out(page, e2e_server)

    # Hold the page's stream back until the approval is recorded.
    held = []
    page.route("**/authy/live_status", lambda route: held.append(route))
    log_in(page, e2e_server, person)
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the waiting page did not open its stream"

    request_uuid = approval_uuid(e2e_server, page.context)
    approve_on_phone(phone, request_uuid, number_to_match(page))
    while attempt_status(e2e_server, request_uuid) != "approved":
        assert time.monotonic() < deadline + 10, "the callback never arrived"
        phone.wait_for_timeout(50)

    held[0].continue_()
    page.wait_for_url(e2e_server.base_url + "/account")


def test_a_newer_login_replaces_the_first_which_a_code_can_still_finish(
    new_context, e2e_server
) -> None:
    person, first, phone = enrolled_person(new_context, e2e_server)
    log_out(first, e2e_server)
    second = new_context().new_page()

    log_in(first, e2e_server, person)
    expect(first.locator("#waiting")).to_have_attribute("data-state", "pending")
    first_uuid = approval_uuid(e2e_server, first.context)
    log_in(second, e2e_server, person)
    expect(second.locator("#waiting")).to_have_attribute("data-state", "pending")
    second_uuid = approval_uuid(e2e_server, second.context)
    assert first_uuid != second_uuid

    # The phone now shows only the second login's request: the first page
    # says so at once, instead of waiting for its request to expire.
    modal = first.locator("#waiting")
    expect(modal).to_have_attribute("data-state", "replaced")
    expect(modal.locator("[data-role=status]")).to_have_text(
        "A newer login replaced this request on your phone; use a code to finish "
        "this one."
    )
    expect(modal.locator("[data-role=number-match]")).to_be_hidden()
    expect(modal.locator("[data-role=use-code]")).to_be_visible()

    approve_on_phone(phone, second_uuid, number_to_match(second))
    second.wait_for_url(e2e_server.base_url + "/account")

    # The second's approval did not log the first in: it is still waiting.
    first.wait_for_timeout(1000)
    assert first.url == e2e_server.base_url + "/login/waiting"
    assert attempt_status(e2e_server, first_uuid) == "pending"

    # A code finishes the first login, as the page offered.
    modal.locator("[data-role=use-code]").click()
    first.wait_for_url(e2e_server.base_url + "/login/code")
    expect(first.locator("[data-role=why]")).to_contain_text(
        "A newer login replaced this request on your phone"
    )
    first.click("[data-role=send-sms]")
    first.wait_for_url(e2e_server.base_url + "/login/code")
    first.fill("#code", texted_code(e2e_server, person))
    first.click("form[data-form=code] button[type=submit]")
    first.wait_for_url(e2e_server.base_url + "/account")
    expect(first.locator("h1")).to_contain_text(person.name)


def test_an_expired_request_replaces_the_heading_and_the_number(
    new_context, e2e_server
) -> None:
    context = new_context()
    waiting_in(e2e_server, context, expires_in=3)
    page = context.new_page()
    page.goto(e2e_server.base_url + "/login/waiting")
    modal = page.locator("#waiting")
    expect(modal.locator("[data-number-match]")).to_have_text("42")

    expect(modal).to_have_attribute("data-state", "expired")
    expect(modal.locator("h1")).to_have_text("The request expired")
    expect(modal.locator("[data-role=number-match]")).to_be_hidden()
    expect(modal.locator("[data-role=use-code]")).to_be_visible()


PHONE = {"width": 390, "height": 844}


def test_pages_log_no_errors_and_error_pages_fit_a_phone(
    new_context, e2e_server
) -> None:
    page = new_context(viewport=PHONE).new_page()
    console_errors: list[str] = []
    failed: list[str] = []
    page.on(
        "console",
        lambda message: (
            console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            failed.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    for path in ("/", "/signup", "/login"):
        page.goto(e2e_server.base_url + path)
        page.wait_for_load_state("networkidle")
    # No 404 for a favicon or anything else, and nothing on the console.
    assert failed == []
    assert console_errors == []

    for path, status, title in (
        ("/no/such/page", 404, "Page not found"),
        ("/logout", 405, "This page does not work that way"),
    ):
        response = page.goto(e2e_server.base_url + path)
        assert response is not None and response.status == status
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator("a[href='/']").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width}px wide on a phone"
