"""Shared Playwright fixtures: one headless Chromium per test module, a fresh
context (cookies, storage, IndexedDB) per test.

Use them from a ``conftest.py`` with ``from tests.support.browser import *``
or ``pytest_plugins = ["tests.support.browser"]``, and mark the tests
``@pytest.mark.browser``. Without Chromium the tests skip with a message,
except under ``CI=true``, where a missing browser is a failure.

Every page opened in a context reports uncaught JavaScript errors; a test
whose pages threw fails, since a page that throws is broken even when the
assertions happened to pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long (ms) Playwright waits for an element or a navigation before failing.
DEFAULT_TIMEOUT_MS = 15_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


# Module scope, not session: Playwright's sync API keeps its event loop
# marked as running in the main thread while it is started, and async tests
# (pytest-asyncio) cannot run then. Starting Chromium once per module of
# browser tests costs about a second; keep async tests out of those modules.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = (
            f"Chromium is not installed at {CHROMIUM}; install it (Debian: apt-get "
            "install chromium) to run the browser tests."
        )
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    # Assertions wait as long as actions do: two cores running a server, a
    # job worker and several browsers can be slow to answer.
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


class PageErrors:
    """Uncaught JavaScript errors of every page in the contexts it watches."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, context: BrowserContext) -> None:
        context.on("page", self._watch_page)

    def _watch_page(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def new_context(
    browser: Browser, page_errors: PageErrors
) -> Iterator[Callable[..., BrowserContext]]:
    """Make a fresh context (another browser profile); all close after the test.

    Keyword arguments go to ``Browser.new_context`` (``user_agent=...`` etc).
    """
    contexts: list[BrowserContext] = []

    def make(**options: object) -> BrowserContext:
        context = browser.new_context(**options)  # type: ignore[arg-type]
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        page_errors.watch(context)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert page_errors.errors == [], "pages threw uncaught JavaScript errors"


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
