"""What the phone shows about a login: who, from where, with what, when."""

from __future__ import annotations

import re
from datetime import datetime

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("HeadlessChrome/", "Chrome (headless)"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def describe_browser(user_agent: str) -> str:
    """A short, readable name such as ``Firefox on Windows``."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system or ""
    cleaned = _PRINTABLE.sub("", user_agent).strip()
    return cleaned[:60] or "Unknown browser"


def login_details(
    email: str, ip: str, user_agent: str, when: datetime
) -> dict[str, str]:
    return {
        "Email": email,
        "IP address": ip or "unknown",
        "Browser": describe_browser(user_agent),
        "Time": when.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
