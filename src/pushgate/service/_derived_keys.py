"""Keys derived from the server secret, one per purpose.

Each purpose gets its own HKDF output, so a key that leaks from one use (say
the hashes of SMS codes) says nothing about another (the TOTP secrets).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derived_key(server_secret: str, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"pushgate {purpose}".encode(),
    ).derive(server_secret.encode())


def fernet(server_secret: str, purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derived_key(server_secret, purpose)))
