"""Reading and checking the site's forms.

Each parser returns the cleaned values or, per field, one sentence saying
what is wrong and how to fix it, shown beside that field. Passwords are
never echoed back into a form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

NAME_MAX = 100
EMAIL_MAX = 254
PASSWORD_MIN = 10
PASSWORD_MAX = 1024

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_COUNTRY_CODE = re.compile(r"^(?:\+|00)?([0-9]{1,4})$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-.()]")
_PHONE = re.compile(r"^[0-9]{6,15}$")


@dataclass(frozen=True, slots=True)
class Signup:
    name: str
    email: str
    password: str
    country_code: str
    phone: str

    def __repr__(self) -> str:
        return f"Signup(email={self.email!r})"


@dataclass(frozen=True, slots=True)
class Login:
    email: str
    password: str

    def __repr__(self) -> str:
        return f"Login(email={self.email!r})"


@dataclass(slots=True)
class Parsed(Generic[T]):
    """A form's outcome: ``value`` when every field is good, else ``errors``."""

    value: T | None
    errors: dict[str, str] = field(default_factory=dict)
    #: What to put back into the fields when the form is shown again.
    echo: dict[str, str] = field(default_factory=dict)


def _text(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _password(form: Mapping[str, object]) -> str:
    # Spaces can be part of a password, so it is not stripped.
    value = form.get("password")
    return value if isinstance(value, str) else ""


def check_name(name: str) -> str | None:
    if not name:
        return "Enter your name."
    if len(name) > NAME_MAX:
        return f"Your name has {len(name)} characters; use at most {NAME_MAX}."
    return None


def check_email(email: str) -> str | None:
    if not email:
        return "Enter your email address."
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        return (
            f"{email[:60]!r} is not an email address; enter one like name@example.com."
        )
    return None


def check_password(password: str) -> str | None:
    if not password:
        return "Choose a password."
    if len(password) < PASSWORD_MIN:
        return (
            f"Your password has {len(password)} characters; "
            f"use at least {PASSWORD_MIN}."
        )
    if len(password) > PASSWORD_MAX:
        return f"Your password is too long; use at most {PASSWORD_MAX} characters."
    return None


def normalize_country_code(value: str) -> str | None:
    """``+44``, ``44`` and ``0044`` are all ``44``; ``None`` when no code."""
    match = _COUNTRY_CODE.match(value)
    if match is None or int(match.group(1)) == 0:
        return None
    return str(int(match.group(1)))


def check_country_code(value: str) -> str | None:
    if not value:
        return "Enter your country calling code, such as 1 or 44."
    if normalize_country_code(value) is None:
        return (
            f"{value[:20]!r} is not a country calling code; "
            "enter 1 to 4 digits, such as 1 or 44."
        )
    return None


def normalize_phone(value: str) -> str:
    return _PHONE_PUNCTUATION.sub("", value)


def check_phone(value: str) -> str | None:
    if not value:
        return "Enter your mobile phone number."
    if not _PHONE.match(normalize_phone(value)):
        return (
            f"{value[:30]!r} is not a phone number; enter 6 to 15 digits "
            "without the country code."
        )
    return None


def parse_signup(form: Mapping[str, object]) -> Parsed[Signup]:
    name = _text(form, "name")
    email = _text(form, "email").lower()
    password = _password(form)
    country_code = _text(form, "country_code")
    phone = _text(form, "phone")
    echo = {"name": name, "email": email, "country_code": country_code, "phone": phone}

    checks = {
        "name": check_name(name),
        "email": check_email(email),
        "password": check_password(password),
        "country_code": check_country_code(country_code),
        "phone": check_phone(phone),
    }
    errors = {key: message for key, message in checks.items() if message}
    if errors:
        return Parsed(value=None, errors=errors, echo=echo)

    value = Signup(
        name=name,
        email=email,
        password=password,
        country_code=normalize_country_code(country_code) or "",
        phone=normalize_phone(phone),
    )
    return Parsed(value=value, echo=echo)


def parse_login(form: Mapping[str, object]) -> Parsed[Login]:
    email = _text(form, "email").lower()
    password = _password(form)
    echo = {"email": email}

    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter the email address you signed up with."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message
    elif len(password) > PASSWORD_MAX:
        errors["password"] = (
            f"Your password is too long; passwords have at most {PASSWORD_MAX} "
            "characters."
        )
    if errors:
        return Parsed(value=None, errors=errors, echo=echo)
    return Parsed(value=Login(email=email, password=password), echo=echo)
