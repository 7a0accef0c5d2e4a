"""Encrypted text field for personal data (ID numbers, phones) at rest.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
BOT_SECRET_KEY; older keys listed in BOT_OLD_SECRET_KEYS still decrypt, so the key can be
rotated (`python -m bot rotate-key` re-encrypts). The key is configured once per process by the
ORM start-up (bot.db), because Tortoise fields have no other way to reach settings; without it
reads and writes fail closed rather than store plaintext.
A keyed hash (`blind_index`) lets us look a value up without decrypting every row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from tortoise.fields import TextField

_fernet: MultiFernet | None = None
_index_key: bytes | None = None


def _derive(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), purpose, hashlib.sha256).digest()


def configure(secret_key: str, old_keys: list[str] | None = None) -> None:
    """Install the process-wide encryption keys (the first one encrypts)."""
    global _fernet, _index_key
    keys = [secret_key, *(old_keys or [])]
    _fernet = MultiFernet(
        [Fernet(base64.urlsafe_b64encode(_derive(k, b"pii-encryption-v1"))) for k in keys]
    )
    _index_key = _derive(secret_key, b"pii-blind-index-v1")


def encrypt(value: str) -> str:
    if _fernet is None:
        raise RuntimeError("field encryption is not configured")
    return _fernet.encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    if _fernet is None:
        raise RuntimeError("field encryption is not configured")
    try:
        return _fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ValueError("personal data does not decrypt with the configured keys") from None


def rotate(token: str) -> str:
    """Re-encrypt a stored value under the current (first) key."""
    if _fernet is None:
        raise RuntimeError("field encryption is not configured")
    return _fernet.rotate(token.encode("ascii")).decode("ascii")


def blind_index(value: str) -> str:
    """A keyed hash to find rows by an exact personal value without storing it."""
    if _index_key is None:
        raise RuntimeError("field encryption is not configured")
    return hmac.new(_index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


class EncryptedTextField(TextField):
    """A TextField whose value is encrypted in the database and plain in Python."""

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if value is None:
            return None
        return encrypt(str(value))

    def to_python_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and value.startswith("gAAAA"):
            return decrypt(value)
        return value
