"""API keys: made random, looked up by hash, kept encrypted for signing.

Callbacks are signed with the application's API key itself (the Authy
scheme), so the service must be able to recover it; it keeps the key
encrypted with a key derived from the server secret, and a SHA-256 hash for
finding the application a request's key belongs to.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _fernet(server_secret: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"pushgate api keys"
    ).derive(server_secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_api_key(server_secret: str, api_key: str) -> str:
    return _fernet(server_secret).encrypt(api_key.encode()).decode()


def decrypt_api_key(server_secret: str, token: str) -> str:
    return _fernet(server_secret).decrypt(token.encode()).decode()
