"""What the pages tell a person to do on the phone matches what the phone shows:
three numbers to pick from (number matching) and Deny, not one Approve."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import update

from pushgate.db.models import LoginAttempt

README = Path(__file__).parents[2] / "README.md"


def visible_text(html: str) -> str:
    body = html.split("<main", 1)[1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_the_home_page_says_to_pick_the_number_shown(site) -> None:
    with site.client() as client:
        text = visible_text(client.get("/").text)
    assert "pick the number shown here" in text
    assert "Tap Approve" not in text and "tap Approve" not in text


def set_number(site, attempt_id: str, number: int | None) -> None:
    async def store() -> None:
        async with site.runtime.sessions.begin() as db:
            await db.execute(
                update(LoginAttempt)
                .where(LoginAttempt.id == attempt_id)
                .values(number_match=number)
            )

    site.run(store)


def test_the_waiting_page_says_to_pick_the_number_it_shows(site) -> None:
    waiting = site.make_waiting()
    set_number(site, waiting.attempt_id, 47)
    with site.client(waiting.token) as client:
        text = visible_text(client.get("/login/waiting").text)

    assert "On your phone, pick 47" in text
    assert "pick the number shown here" in text
    assert "tap Approve" not in text


def test_without_number_matching_the_waiting_page_says_tap_approve(site) -> None:
    waiting = site.make_waiting()
    with site.client(waiting.token) as client:
        html = client.get("/login/waiting").text
    assert "data-number-match" not in html
    assert "tap Approve" in visible_text(html)


def test_the_readme_walk_through_says_to_pick_the_number() -> None:
    walk_through = README.read_text().split("## Walk-through", 1)[1]
    step_four = walk_through.split("\n4. ", 1)[1].split("\n5. ", 1)[0]
    assert "Pick the number shown on the" in step_four
    assert "Approve**" not in step_four


def test_pages_link_the_favicon_which_is_served(site) -> None:
    with site.client() as client:
        home = client.get("/")
        icon = client.get("/static/favicon.svg")
        old_style = client.get("/favicon.ico", follow_redirects=False)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in (
        home.text
    )
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert old_style.status_code == 301
    assert old_style.headers["location"] == "/static/favicon.svg"


def test_no_page_advises_a_password_change_it_cannot_make(site) -> None:
    waiting = site.make_waiting()
    site.post_callback(site.callback_body(waiting, "denied"))
    with site.client(waiting.token) as client:
        code_page = visible_text(client.get("/login/code").text)
    assert "denied on your phone" in code_page
    assert "change your password" not in code_page
    script = (Path(__file__).parents[2] / "src/pushgate/static/login.js").read_text()
    assert "change your password" not in script
