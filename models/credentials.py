"""How secrets are stored: only as hashes (the centre's API keys, session tokens, invitation
codes). Below the engine's auth (bot.auth) and the models that issue codes (agent, pool)."""

from __future__ import annotations

import hashlib


def hash_secret(value: str) -> str:
    """SHA-256 is enough: our keys and tokens are 256-bit random, not guessable passwords."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
