"""What every message sender offers, and the phone-number helpers they share."""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from typing import Literal

Channel = Literal["sms", "call"]
CHANNELS: tuple[Channel, ...] = ("sms", "call")


@dataclass(frozen=True, repr=False)
class Message:
    """One text or call: ``text`` is what is written or spoken (it holds a code)."""

    channel: Channel
    to: str
    text: str

    def __repr__(self) -> str:
        return f"Message(channel={self.channel!r}, to={mask_number(self.to)!r})"


class SendError(Exception):
    """A sender could not hand a message over; the job queue tries again."""


class Sender(abc.ABC):
    #: The setting value that selects this sender.
    name: str

    @abc.abstractmethod
    async def send(self, message: Message) -> str:
        """Send ``message``; returns the sender's reference for it (for logs)."""


def e164(country_code: str, cellphone: str) -> str:
    """``+`` then the digits of the country code and of the number."""
    return "+" + _digits(country_code) + _digits(cellphone)


def masked_cellphone(country_code: str, cellphone: str) -> str:
    """Authy's way of showing a number: ``+1-XXX-XXX-XX85``."""
    digits = _digits(cellphone)
    hidden = "X" * max(len(digits) - 2, 0)
    groups = [hidden[i : i + 3] for i in range(0, len(hidden), 3)] or [""]
    groups[-1] += digits[-2:]
    return "+" + _digits(country_code) + "-" + "-".join(groups)


def mask_number(number: str) -> str:
    """An E.164 number with all but its last two digits hidden, for logs."""
    digits = _digits(number)
    return "+" + "X" * max(len(digits) - 2, 0) + digits[-2:]


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)
