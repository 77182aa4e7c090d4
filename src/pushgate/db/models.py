"""Tables of the web app and of the approval service.

The two parts share one database but no tables: the web app's tables have
plain names, the approval service's start with ``service_``. Neither part
reads the other's tables; they talk over the Authy-compatible HTTP API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: Json,
    }


# --- web app -----------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_phone", "country_code", "phone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    country_code: Mapped[str] = mapped_column(String(4))
    phone: Mapped[str] = mapped_column(String(20))
    #: The person's user at the approval service: never shared by two accounts,
    #: since whoever holds it approves its logins.
    authy_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime]


class WebSession(Base):
    """A server-side session; the cookie holds a token, this row its hash."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginAttempt(Base):
    """One password-verified login waiting for its second factor.

    The approval request created for it is recorded by uuid, so an answer
    can only ever finish the attempt it was created for.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        # Expiry is computed from expires_at, never stored as a status.
        CheckConstraint(
            "status IN ('pending', 'approved', 'denied')",
            name="ck_login_attempts_status",
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    approval_uuid: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(Text, default="")
    #: The two-digit number the waiting page shows (number matching).
    number_match: Mapped[int | None] = mapped_column(Integer)
    #: When a newer login of the same person sent its push: the service keeps
    #: one pending push per person, so this one's left the phone then.
    replaced_at: Mapped[datetime | None]


class CallbackNonce(Base):
    """Nonces of accepted callbacks, kept a while to refuse replays."""

    __tablename__ = "callback_nonces"

    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


# --- approval service --------------------------------------------------------


class ServiceApp(Base):
    """An application allowed to use the approval service with an API key.

    The key is kept as a SHA-256 hash for lookup and encrypted with the
    server secret, because callbacks are signed with the key itself.
    """

    __tablename__ = "service_apps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_encrypted: Mapped[str] = mapped_column(Text)
    callback_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ServiceUser(Base):
    __tablename__ = "service_users"
    __table_args__ = (UniqueConstraint("app_id", "country_code", "cellphone"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    app_id: Mapped[int] = mapped_column(
        ForeignKey("service_apps.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    country_code: Mapped[str] = mapped_column(String(4))
    cellphone: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    #: Set when the person chose "Deny and report"; no pushes until then.
    pushes_paused_until: Mapped[datetime | None]


class ServiceDevice(Base):
    """An enrolled authenticator: a browser holding a non-extractable key."""

    __tablename__ = "service_devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("service_users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="")
    public_key: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ServiceEnrollment(Base):
    """A one-time link that lets a phone enroll as a user's device."""

    __tablename__ = "service_enrollments"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("service_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ServiceApprovalRequest(Base):
    __tablename__ = "service_approval_requests"
    __table_args__ = (Index("ix_service_approval_user_status", "user_id", "status"),)

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[int] = mapped_column(
        ForeignKey("service_apps.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("service_users.id", ondelete="CASCADE")
    )
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hidden_details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    logos: Mapped[dict[str, Any] | None] = mapped_column(Json)
    seconds_to_expire: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    device_id: Mapped[str | None] = mapped_column(String(64))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The number the login page shows and the three the authenticator offers.
    number_match: Mapped[int | None] = mapped_column(Integer)
    number_choices: Mapped[list[int] | None] = mapped_column(Json)
    #: When the device signed its answer (the time inside the signature).
    device_signing_time: Mapped[datetime | None]
    #: The device's signature over its answer (base64 raw r||s).
    device_signature: Mapped[str] = mapped_column(Text, default="")


class ServiceCallbackDelivery(Base):
    """One attempt to deliver an answer to an application's callback URL.

    Kept so operators can see what was delivered, what failed and why.
    """

    __tablename__ = "service_callback_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    app_id: Mapped[int] = mapped_column(
        ForeignKey("service_apps.id", ondelete="CASCADE"), index=True
    )
    approval_uuid: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    #: delivered, failed (will be retried), abandoned (no more retries)
    outcome: Mapped[str] = mapped_column(String(16), default="sending")
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")


class ServiceApiUsage(Base):
    """API calls an application made in one month (for ``app/stats``)."""

    __tablename__ = "service_api_usage"

    app_id: Mapped[int] = mapped_column(
        ForeignKey("service_apps.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    api_calls: Mapped[int] = mapped_column(BigInteger, default=0)


class ServicePhoneVerification(Base):
    """A code sent to a phone number to prove the person holds it.

    Made by ``phones/verification/start`` for an application, or by the
    authenticator's phone enrollment (no application); only a hash is kept.
    """

    __tablename__ = "service_phone_verifications"
    __table_args__ = (
        Index("ix_service_phone_verifications_phone", "country_code", "cellphone"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_apps.id", ondelete="CASCADE")
    )
    country_code: Mapped[str] = mapped_column(String(4))
    cellphone: Mapped[str] = mapped_column(String(20))
    via: Mapped[str] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[datetime | None]
    replaced_at: Mapped[datetime | None]


# --- codes: SMS, voice, TOTP and recovery ------------------------------------


class ServiceToken(Base):
    """A one-time code sent by SMS or voice call; only a keyed hash is kept.

    A user has at most one live token: issuing a new one replaces the last.
    """

    __tablename__ = "service_tokens"
    __table_args__ = (Index("ix_service_tokens_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("service_users.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(200), default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    replaced_at: Mapped[datetime | None]


class ServiceTotp(Base):
    """A user's TOTP secret (encrypted) and what protects it from reuse."""

    __tablename__ = "service_totp_secrets"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("service_users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    digits: Mapped[int] = mapped_column(Integer, default=6)
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ServiceOutboxMessage(Base):
    """A message the development outbox sender kept instead of sending."""

    __tablename__ = "service_outbox_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    to_number: Mapped[str] = mapped_column(String(32), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class RecoveryCode(Base):
    """One of a site user's single-use recovery codes, kept as a hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


# --- security ----------------------------------------------------------------


class LoginThrottle(Base):
    """Wrong passwords counted per email or client address (the key)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None]


class SecurityEvent(Base):
    """The web app's audit trail; no secrets or codes in ``detail``."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)


class ServiceSecurityEvent(Base):
    """The approval service's audit trail; no secrets or codes in ``detail``."""

    __tablename__ = "service_security_events"
    __table_args__ = (
        Index("ix_service_security_events_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    app_id: Mapped[int] = mapped_column(
        ForeignKey("service_apps.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_users.id", ondelete="CASCADE")
    )
    device_id: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)
