"""Message senders for SMS and voice codes, chosen by ``PUSHGATE_MESSAGE_SENDER``.

``outbox`` (the default) keeps messages for a local-only page; ``twilio``
sends them through Twilio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pushgate.service.senders.base import Message, Sender, SendError

if TYPE_CHECKING:
    from pushgate.runtime import Runtime


def create_sender(runtime: Runtime) -> Sender:
    """The sender named by the settings."""
    settings = runtime.settings
    if settings.message_sender == "twilio":
        from pushgate.service.senders.twilio import TwilioSender

        missing = [
            name
            for name, value in (
                ("PUSHGATE_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                ("PUSHGATE_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                ("PUSHGATE_TWILIO_FROM_NUMBER", settings.twilio_from_number),
            )
            if not value
        ]
        if missing:
            raise SendError(
                f"The twilio sender needs {', '.join(missing)}; set them or "
                "use PUSHGATE_MESSAGE_SENDER=outbox."
            )
        assert settings.twilio_account_sid and settings.twilio_auth_token
        assert settings.twilio_from_number
        return TwilioSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number,
            runtime.http,
        )

    from pushgate.service.senders.outbox import OutboxSender

    return OutboxSender(runtime.sessions)


__all__ = ["Message", "SendError", "Sender", "create_sender"]
