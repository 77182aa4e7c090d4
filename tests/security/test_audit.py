"""The audit trail keeps events without secrets, in a table and in the log."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import select

from pushgate.db.models import SecurityEvent
from pushgate.security import audit


def test_secret_looking_fields_are_dropped() -> None:
    detail = audit.clean_detail(
        {
            "password": "hunter2",
            "code": "123456",
            "totp": "654321",
            "api_key": "k",
            "session_token": "t",
            "signature": "s",
            "recovery_codes": "a b c",
            "country_code": "1",
            "error_code": 60003,
            "channel": "sms",
            "reason": "x" * 500,
        }
    )
    assert detail == {
        "country_code": "1",
        "error_code": 60003,
        "channel": "sms",
        "reason": "x" * 200,
    }


async def test_record_writes_a_row_and_a_security_log_line(sessions, caplog) -> None:
    caplog.set_level(logging.INFO, logger="pushgate.security")
    marker = secrets.token_hex(4)
    async with sessions.begin() as session:
        await audit.record(
            session,
            audit.LOGIN_FAILED,
            user_id=None,
            ip="192.0.2.1",
            email=f"{marker}@example.com",
            password="hunter2",
        )
    async with sessions() as session:
        row = await session.scalar(
            select(SecurityEvent).where(
                SecurityEvent.detail["email"].as_string() == f"{marker}@example.com"
            )
        )
    assert row is not None and row.event == "login_failed" and row.ip == "192.0.2.1"
    assert "password" not in row.detail
    lines = [r.getMessage() for r in caplog.records if r.name == "pushgate.security"]
    assert any(marker in line and "login_failed" in line for line in lines)
    assert not any("hunter2" in line for line in lines)
    assert audit.describe(audit.PUSH_REPORTED).startswith("Push reported")
