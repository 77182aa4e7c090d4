"""Reading and checking the site's forms.

Every posted form is read once, by :func:`read_form`, into a
:class:`FormInput`: one text value per field, and a problem for each field
holding a control character (a NUL byte above all, which PostgreSQL cannot
store and no name, address, password or code contains). Such a field reads as
empty, so its value reaches nothing, and its problem is shown beside it.

Each parser returns the cleaned values or, per field, one sentence saying
what is wrong and how to fix it, shown beside that field. Passwords are
never echoed back into a form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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
_UNCHANGED = "Your new password is the one you have now; choose a different one."
#: C0 and C1 control characters and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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


@dataclass(frozen=True, slots=True)
class PasswordChange:
    current: str
    new: str

    def __repr__(self) -> str:
        return "PasswordChange()"


@dataclass(slots=True)
class Parsed(Generic[T]):
    """A form's outcome: ``value`` when every field is good, else ``errors``."""

    value: T | None
    errors: dict[str, str] = field(default_factory=dict)
    #: What to put back into the fields when the form is shown again.
    echo: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, repr=False)
class FormInput:
    """A posted form: one text value per field, and the fields refused as read."""

    fields: dict[str, str] = field(default_factory=dict)
    #: A sentence per field that held a control character (its value is "").
    problems: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")

    def __repr__(self) -> str:
        # Fields hold passwords and codes: name them, never show them.
        return f"FormInput(fields={sorted(self.fields)!r})"


def read_form(form: Mapping[str, object]) -> FormInput:
    """The form's fields as text, refusing control characters in any of them.

    A field sent twice counts once, by its last value; a file is not text and
    reads as empty. Whitespace around a value (a pasted tab or line break) is
    not refused: the parsers strip it where it does not belong.
    """
    fields: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, raw in form.items():
        value = raw if isinstance(raw, str) else ""
        found = _CONTROL.search(value.strip())
        if found is not None:
            problems[name] = _control_problem(found.group())
            value = ""
        fields[name] = value
    return FormInput(fields=fields, problems=problems)


def _control_problem(character: str) -> str:
    return (
        f"This holds the invisible control character U+{ord(character):04X}, "
        "which cannot be part of it; type it again without it."
    )


def _as_input(form: FormInput | Mapping[str, object]) -> FormInput:
    return form if isinstance(form, FormInput) else read_form(form)


def _text(form: FormInput, name: str) -> str:
    return form.get(name).strip()


def _password(form: FormInput, name: str = "password") -> str:
    # Spaces can be part of a password, so it is not stripped.
    return form.get(name)


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


def parse_signup(form: FormInput | Mapping[str, object]) -> Parsed[Signup]:
    form = _as_input(form)
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
    errors.update(_refused_as_read(form, checks))
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


def parse_login(form: FormInput | Mapping[str, object]) -> Parsed[Login]:
    form = _as_input(form)
    email = _text(form, "email").lower()
    password = _password(form)
    echo = {"email": email}

    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter the email address you signed up with."
    elif len(email) > EMAIL_MAX:
        errors["email"] = (
            f"That email address has {len(email)} characters; email addresses "
            f"have at most {EMAIL_MAX}."
        )
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message
    elif len(password) > PASSWORD_MAX:
        errors["password"] = (
            f"Your password is too long; passwords have at most {PASSWORD_MAX} "
            "characters."
        )
    errors.update(_refused_as_read(form, ("email", "password")))
    if errors:
        return Parsed(value=None, errors=errors, echo=echo)
    return Parsed(value=Login(email=email, password=password), echo=echo)


def _refused_as_read(form: FormInput, names: Iterable[str]) -> dict[str, str]:
    """The read-time problems of the named fields; they outrank "enter a value"."""
    return {name: form.problems[name] for name in names if name in form.problems}


def parse_password_change(
    form: FormInput | Mapping[str, object],
) -> Parsed[PasswordChange]:
    form = _as_input(form)
    current = _password(form, "current_password")
    new = _password(form, "new_password")

    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = "Enter your current password."  # noqa: S105
    elif len(current) > PASSWORD_MAX:
        errors["current_password"] = (
            f"That is longer than any password here ({PASSWORD_MAX} characters "
            "at most); type your current password."
        )
    new_problem = check_password(new)
    if new_problem is not None:
        errors["new_password"] = new_problem
    elif new == current:
        errors["new_password"] = _UNCHANGED
    errors.update(_refused_as_read(form, ("current_password", "new_password")))
    if errors:
        return Parsed(value=None, errors=errors)
    return Parsed(value=PasswordChange(current=current, new=new))
