"""Users, sessions and login attempts for the benchmark, written in bulk.

Each waiting browser needs what a real one has after ``POST /login``: a user,
a login attempt with its approval request's uuid, and a server-side session
whose cookie token names the attempt. Going through ``/login`` would measure
password hashing (argon2 is slow by design) instead of waiting; the rows are
the same either way, so they are written straight into the database, with
``COPY``, tens of thousands per second.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from pushgate import clock

#: Long enough that nothing the benchmark made expires while it runs.
LIFETIME = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class Login:
    """A password-verified login waiting for approval, as a browser holds it."""

    token: str
    attempt_id: str
    approval_uuid: str
    #: The user's id at the approval service, which callbacks carry.
    authy_id: int

    def as_row(self) -> list[str | int]:
        return [self.token, self.attempt_id, self.approval_uuid, self.authy_id]


@dataclass(frozen=True, slots=True)
class User:
    id: int
    authy_id: int


def create_users(conninfo: str, count: int) -> list[User]:
    """``count`` users; none can log in with a password (the bench never does)."""
    run = secrets.token_hex(4)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        rows = connection.execute(
            """
            INSERT INTO users
                (name, email, password_hash, country_code, phone, authy_id,
                 created_at)
            SELECT 'Bench user ' || n, 'bench-' || %(run)s || '-' || n
                       || '@example.invalid',
                   '!bench', '1', lpad(n::text, 10, '5'), %(base)s + n, %(now)s
            FROM generate_series(1, %(count)s) AS n
            RETURNING id, authy_id
            """,
            {
                "run": run,
                "count": count,
                "now": clock.now(),
                "base": secrets.randbelow(1 << 40),
            },
        ).fetchall()
    return [User(id=row[0], authy_id=row[1]) for row in rows]


def create_logins(conninfo: str, users: list[User], count: int) -> list[Login]:
    """``count`` pending login attempts, each with the session that waits on it."""
    now = clock.now()
    expires = now + LIFETIME
    owners = [users[number % len(users)] for number in range(count)]
    logins = [
        Login(
            token=secrets.token_urlsafe(32),
            attempt_id=secrets.token_urlsafe(24),
            approval_uuid=str(uuid.uuid4()),
            authy_id=owner.authy_id,
        )
        for owner in owners
    ]
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY login_attempts (id, user_id, status, approval_uuid, created_at,"
            " expires_at, ip, user_agent) FROM STDIN"
        ) as copy:
            for owner, login in zip(owners, logins, strict=True):
                copy.write_row(
                    (
                        login.attempt_id,
                        owner.id,
                        "pending",
                        login.approval_uuid,
                        now,
                        expires,
                        "127.0.0.1",
                        "pushgate-bench",
                    )
                )
        with cursor.copy(
            "COPY web_sessions (token_hash, data, created_at, expires_at) FROM STDIN"
        ) as copy:
            for login in logins:
                data = {"attempt_id": login.attempt_id, "csrf": secrets.token_hex(8)}
                copy.write_row(
                    (
                        hashlib.sha256(login.token.encode()).hexdigest(),
                        json.dumps(data),
                        now,
                        expires,
                    )
                )
    return logins
