"""New recovery codes: made by a POST, shown by the GET it redirects to, once."""

from __future__ import annotations

import re

from sqlalchemy import select

from pushgate.db.models import RecoveryCode
from pushgate.web import recovery_codes
from tests.web.conftest import csrf_from


def codes_on(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html)


def stored_hashes(site, user_id: int) -> set[str]:
    async def load() -> set[str]:
        async with site.runtime.sessions() as db:
            rows = await db.scalars(
                select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)
            )
            return set(rows)

    return site.run(load)


def user_with_codes(site):
    user = site.make_user()

    async def issue() -> None:
        async with site.runtime.sessions.begin() as db:
            await recovery_codes.issue(
                db, site.runtime.settings.resolved_secret_key(), user.id
            )

    site.run(issue)
    token, _ = site.make_session(user_id=user.id)
    return user, token


def test_new_codes_are_shown_by_a_redirect_then_never_again(site) -> None:
    user, token = user_with_codes(site)
    before = stored_hashes(site, user.id)
    with site.client(token) as client:
        csrf = csrf_from(client.get("/account/recovery-codes").text)
        made = client.post("/account/recovery-codes", data={"csrf_token": csrf})
        assert made.status_code == 303
        assert made.headers["location"] == "/account/recovery-codes"
        assert codes_on(made.text) == []
        after = stored_hashes(site, user.id)

        shown = client.get("/account/recovery-codes")
        reloaded = client.get("/account/recovery-codes")

    assert after != before and len(after) == recovery_codes.COUNT
    new = codes_on(shown.text)
    assert len(new) == recovery_codes.COUNT
    # The reload shows no codes and makes no new set.
    assert codes_on(reloaded.text) == []
    assert "shown only once" in reloaded.text
    assert stored_hashes(site, user.id) == after
    # Nothing of the codes is left in the session once they were shown.
    data = site.session_row(token).data
    assert not any(code in str(data) for code in new)


def test_the_codes_page_needs_a_signed_in_person(site) -> None:
    with site.client() as client:
        response = client.get("/account/recovery-codes", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
