"""POST /authy/callback: only signed, fresh answers for a known request count."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from pushgate import clock, webhook_signature
from pushgate.db.engine import autocommit
from pushgate.db.models import CallbackNonce, LoginAttempt
from pushgate.web import attempts
from tests.web.conftest import new_nonce


def nonce_stored(site, nonce: str) -> bool:
    async def count() -> int:
        async with site.runtime.sessions() as db:
            return await db.scalar(
                select(func.count())
                .select_from(CallbackNonce)
                .where(CallbackNonce.nonce == nonce)
            )

    return site.run(count) == 1


def test_an_approval_updates_its_attempt_and_wakes_its_waiters(site) -> None:
    waiting = site.make_waiting()

    async def subscribe():
        return site.runtime.bus.subscribe(attempts.topic(waiting.attempt_id))

    subscription = site.run(subscribe)
    try:
        response = site.post_callback(site.callback_body(waiting, "approved"))
        woke = site.run(lambda: subscription.wait(timeout=5))
    finally:
        site.run(lambda: _close(subscription))

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "status": "approved"}
    attempt = site.attempt(waiting.attempt_id)
    assert attempt.status == "approved"
    assert attempt.answered_at is not None
    assert woke


async def _close(subscription) -> None:
    subscription.close()


def test_a_denial_is_recorded(site) -> None:
    waiting = site.make_waiting()
    response = site.post_callback(site.callback_body(waiting, "denied"))
    assert response.status_code == 200
    assert site.attempt(waiting.attempt_id).status == "denied"


def test_a_wrong_signature_is_refused_and_changes_nothing(site) -> None:
    waiting = site.make_waiting()
    body = site.callback_body(waiting)
    nonce = new_nonce()

    wrong_key = site.post_callback(body, nonce=nonce, key="not-the-api-key")
    garbage = site.post_callback(body, signature="AAAA")
    with site.client() as client:
        unsigned = client.post("/authy/callback", json=body)
    # Signed as a denial, sent as an approval.
    other_nonce = new_nonce()
    url = site.runtime.settings.resolved_public_url() + "/authy/callback"
    signature = webhook_signature.sign(
        site.runtime.service_api_key,
        other_nonce,
        "POST",
        url,
        site.callback_body(waiting, "denied"),
    )
    tampered = site.post_callback(body, nonce=other_nonce, signature=signature)

    for response in (wrong_key, garbage, unsigned, tampered):
        assert response.status_code == 401, response.text
        assert "X-Authy-Signature" in response.json()["message"]
    assert site.attempt(waiting.attempt_id).status == "pending"
    assert not nonce_stored(site, nonce)


def test_a_malformed_body_gets_400_with_a_message(site) -> None:
    with site.client() as client:
        not_json = client.post(
            "/authy/callback",
            content=b"uuid=1&status=approved",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        a_list = client.post("/authy/callback", json=["approved"])

    assert not_json.status_code == 400
    assert not_json.json()["message"] == (
        "The body is not valid JSON; send a JSON object."
    )
    assert a_list.status_code == 400
    assert a_list.json()["message"] == "The request body must be a JSON object."


def test_a_signed_body_without_a_usable_answer_gets_400(site) -> None:
    waiting = site.make_waiting()
    body = site.callback_body(waiting)

    no_uuid = site.post_callback({k: v for k, v in body.items() if k != "uuid"})
    odd_status = site.post_callback({**body, "status": "maybe"})
    odd_user = site.post_callback({**body, "authy_id": "seven"})

    assert no_uuid.status_code == 400
    assert "uuid" in no_uuid.json()["message"]
    assert odd_status.status_code == 400
    assert odd_status.json()["message"] == (
        "The callback's status 'maybe' must be 'approved' or 'denied'."
    )
    assert odd_user.status_code == 400
    assert site.attempt(waiting.attempt_id).status == "pending"


@pytest.mark.parametrize("uuid", ["\x00", "abc\x00def", "with space", "ü" * 8])
def test_a_signed_uuid_with_control_or_odd_characters_gets_400(site, uuid) -> None:
    waiting = site.make_waiting()
    response = site.post_callback({**site.callback_body(waiting), "uuid": uuid})
    assert response.status_code == 400
    assert "uuid" in response.json()["message"]


def test_a_repeated_nonce_is_refused(site) -> None:
    first_waiting = site.make_waiting()
    second_waiting = site.make_waiting()
    nonce = new_nonce()

    first = site.post_callback(site.callback_body(first_waiting), nonce=nonce)
    replay = site.post_callback(site.callback_body(second_waiting), nonce=nonce)

    assert first.status_code == 200
    assert replay.status_code == 401
    assert "nonce was already used" in replay.json()["message"]
    assert site.attempt(second_waiting.attempt_id).status == "pending"


def test_an_answer_for_an_unknown_request_is_refused(site) -> None:
    waiting = site.make_waiting()
    body = {**site.callback_body(waiting), "uuid": "no-such-request"}

    response = site.post_callback(body)

    assert response.status_code == 404
    assert "no-such-request" in response.json()["message"]
    assert site.attempt(waiting.attempt_id).status == "pending"


def test_the_attempt_is_found_by_uuid_not_by_hidden_details(site) -> None:
    target = site.make_waiting()
    other = site.make_waiting()
    body = site.callback_body(target)
    body["approval_request"]["transaction"]["hidden_details"] = {
        "login_attempt_id": other.attempt_id
    }

    assert site.post_callback(body).status_code == 200
    assert site.attempt(target.attempt_id).status == "approved"
    assert site.attempt(other.attempt_id).status == "pending"


def test_a_repeated_answer_is_a_no_op_and_a_different_one_is_refused(site) -> None:
    waiting = site.make_waiting()
    assert (
        site.post_callback(site.callback_body(waiting, "approved")).status_code == 200
    )
    answered_at = site.attempt(waiting.attempt_id).answered_at

    again = site.post_callback(site.callback_body(waiting, "approved"))
    changed = site.post_callback(site.callback_body(waiting, "denied"))

    assert again.status_code == 200
    assert changed.status_code == 409
    assert "first answer stands" in changed.json()["message"]
    attempt = site.attempt(waiting.attempt_id)
    assert attempt.status == "approved"
    assert attempt.answered_at == answered_at


def test_an_answer_after_expiry_is_refused(site) -> None:
    waiting = site.make_waiting(expires_in=-1)
    response = site.post_callback(site.callback_body(waiting, "approved"))

    assert response.status_code == 409
    assert "expired" in response.json()["message"]
    assert site.attempt(waiting.attempt_id).status == "pending"


def test_an_answer_naming_another_user_is_refused(site) -> None:
    waiting = site.make_waiting()
    body = {**site.callback_body(waiting), "authy_id": waiting.authy_id + 1}

    response = site.post_callback(body)

    assert response.status_code == 409
    assert site.attempt(waiting.attempt_id).status == "pending"


def test_an_answer_on_a_used_attempt_changes_nothing(site) -> None:
    waiting = site.make_waiting()

    async def mark_used() -> None:
        async with site.runtime.sessions.begin() as db:
            await db.execute(
                update(LoginAttempt)
                .where(LoginAttempt.id == waiting.attempt_id)
                .values(status="denied", used_at=clock.now() - timedelta(seconds=1))
            )

    site.run(mark_used)
    response = site.post_callback(site.callback_body(waiting, "approved"))
    assert response.status_code == 409
    assert site.attempt(waiting.attempt_id).status == "denied"


def test_racing_answers_on_one_attempt_let_exactly_one_win(site) -> None:
    # The answer is one statement: the loser's UPDATE waits for the winner's
    # row lock, then finds the attempt no longer pending and reports why.
    waiting = site.make_waiting()

    async def race() -> list[str]:
        engine = autocommit(site.runtime.engine)
        now = clock.now()

        async def answer(status: str) -> str:
            async with engine.connect() as connection:
                result = await attempts.record_answer(
                    connection,
                    waiting.approval_uuid,
                    status,
                    None,
                    new_nonce(),
                    now,
                    None,
                )
            return result.outcome

        return list(
            await asyncio.gather(
                answer("approved"), answer("denied"), answer("approved")
            )
        )

    outcomes = site.run(race)
    assert outcomes.count("recorded") == 1, outcomes
    winner = site.attempt(waiting.attempt_id).status
    for status, outcome in zip(
        ("approved", "denied", "approved"), outcomes, strict=True
    ):
        if outcome != "recorded":
            expected = "repeated" if status == winner else "already_answered"
            assert outcome == expected, outcomes
