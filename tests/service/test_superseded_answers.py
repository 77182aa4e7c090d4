"""Answering a request a newer one replaced says so, not "already answered"."""

from __future__ import annotations

REPLACED = "This request was replaced by a newer one; answer the newest request."


def test_answering_a_replaced_request_says_it_was_replaced(enrolled) -> None:
    app, user_id, device = enrolled
    older = app.approval_request(user_id)
    newer = app.approval_request(user_id)  # one pending push per user

    for status in ("approved", "denied"):
        response = device.answer(older, status)
        assert response.status_code == 410, response.text
        assert response.json() == {
            "success": False,
            "message": REPLACED,
            "reason": "superseded",
        }
    assert app.approval_status(older) == "expired"

    assert device.answer(newer, "approved").status_code == 200
    assert app.approval_status(newer) == "approved"


def test_an_answered_request_is_still_already_answered(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)
    assert device.answer(uuid, "denied").status_code == 200
    app.approval_request(user_id)  # a newer request replaces only pending ones

    again = device.answer(uuid, "approved")

    assert again.status_code == 409
    assert again.json()["reason"] == "already_answered"
    assert again.json()["message"] == "That request was already answered."
