"""Configuration from ``PUSHGATE_*`` environment variables and a ``.env`` file.

Every setting is documented here and in the README with its default.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PUSHGATE_", env_file=".env", extra="ignore"
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL in data_dir.",
    )
    data_dir: Path = Field(
        default=Path(".pushgate"),
        description="Folder for the embedded database and the generated secret key.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Secret for encrypting stored API keys. Unset: generated once "
        "and kept in data_dir/secret_key.",
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, description="Port to listen on.")
    workers: int = Field(
        default=1, ge=1, description="Worker processes serve runs on the one port."
    )
    public_url: str | None = Field(
        default=None,
        description="Address people and phones use to reach this server. "
        "Unset: http://HOST:PORT.",
    )
    service_url: str | None = Field(
        default=None,
        description="Approval service the web app calls. Unset: this server.",
    )
    service_api_key: SecretStr | None = Field(
        default=None,
        description="Web app's API key for the approval service. Unset: serve "
        "creates the web app's own application and key.",
    )
    event_backend: Literal["postgres", "redis", "memory"] = Field(
        default="postgres",
        description="Event bus: postgres (LISTEN/NOTIFY), redis (pub/sub) or "
        "memory (one process only).",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis for the redis bus."
    )
    sse_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="Seconds between SSE comment heartbeats."
    )
    sse_retry_ms: int = Field(
        default=3000, ge=0, description="Reconnect hint sent to SSE clients (ms)."
    )
    approval_seconds: int = Field(
        default=120, gt=0, description="How long a push approval request waits."
    )
    session_max_age_seconds: int = Field(
        default=14 * 24 * 3600, gt=0, description="Web session lifetime."
    )
    cookie_secure: bool = Field(
        default=False,
        description="Mark cookies Secure. Turn on when served over HTTPS.",
    )
    run_worker: bool = Field(
        default=True,
        description="Run the job worker (callbacks, messages) inside serve.",
    )
    message_sender: Literal["outbox", "twilio"] = Field(
        default="outbox",
        description="How SMS and voice codes go out: outbox (kept for the "
        "local-only /outbox page, for development) or twilio.",
    )
    twilio_account_sid: str | None = Field(
        default=None, description="Twilio account SID for the twilio sender."
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token for the twilio sender."
    )
    twilio_from_number: str | None = Field(
        default=None,
        description="Twilio phone number (E.164) that texts and calls come from.",
    )
    totp_digits: int = Field(
        default=6, ge=6, le=8, description="Digits of new users' TOTP codes."
    )
    totp_issuer: str = Field(
        default="pushgate", description="Issuer name authenticator apps show."
    )
    db_pool_size: int = Field(default=10, gt=0, description="Database pool size.")
    log_level: str = Field(default="INFO", description="Logging level.")

    # --- security ---------------------------------------------------------
    tls_certfile: Path | None = Field(
        default=None,
        description="PEM certificate chain: serve HTTPS (with tls_keyfile).",
    )
    tls_keyfile: Path | None = Field(
        default=None, description="PEM private key of tls_certfile."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of reverse proxies "
        "whose X-Forwarded-For/-Proto/-Host headers are believed. Empty: none.",
    )
    callback_nonce_max_age_seconds: int = Field(
        default=300,
        gt=0,
        description="Oldest callback nonce (a unix time) the web app accepts.",
    )
    login_free_failures_per_account: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords for one email before delays start.",
    )
    login_free_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Wrong passwords from one client address before delays start.",
    )
    login_max_delay_seconds: int = Field(
        default=900,
        gt=0,
        description="Longest wait imposed after repeated wrong passwords.",
    )
    login_failure_memory_seconds: int = Field(
        default=3600,
        gt=0,
        description="Wrong passwords older than this (since the last one) are "
        "forgotten.",
    )
    push_limit_per_user: int = Field(
        default=5,
        ge=1,
        description="Push approval requests one user may receive per window.",
    )
    push_limit_window_seconds: int = Field(
        default=900, gt=0, description="Window of push_limit_per_user."
    )
    push_report_pause_seconds: int = Field(
        default=3600,
        ge=0,
        description="How long pushes stop for a user who chose Deny and report.",
    )

    def serves_tls(self) -> bool:
        return self.tls_certfile is not None

    @model_validator(mode="after")
    def _check_twilio_settings(self) -> Settings:
        if self.message_sender != "twilio":
            return self
        missing = [
            f"PUSHGATE_{name.upper()}"
            for name in (
                "twilio_account_sid",
                "twilio_auth_token",
                "twilio_from_number",
            )
            if not getattr(self, name)
        ]
        if missing:
            raise ValueError(
                f"PUSHGATE_MESSAGE_SENDER=twilio needs {', '.join(missing)}; set "
                "them, or use PUSHGATE_MESSAGE_SENDER=outbox."
            )
        return self

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.serves_tls() else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def resolved_service_url(self) -> str:
        if self.service_url:
            return self.service_url.rstrip("/")
        return self.resolved_public_url()

    def resolved_secret_key(self) -> str:
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(key)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
