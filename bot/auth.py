"""Credentials: the centre's API keys (X-Api-Key). Secrets are stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

from aiohttp import web

from bot.api import ApiError
from models.people import CenterKey

REGION = re.compile(r"^\d{6}$")  # GB/T 2260 administrative division code
CENTER_KEY_PREFIX = "lak_"  # makes a leaked key recognisable to secret scanners


def hash_secret(value: str) -> str:
    """SHA-256 is enough: our keys and tokens are 256-bit random, not guessable passwords."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


async def create_center_key(region: str, label: str = "") -> str:
    if not REGION.match(region):
        raise ValueError("region must be a 6-digit administrative code, e.g. 330600")
    key = new_secret(CENTER_KEY_PREFIX)
    await CenterKey.create(region=region, key_hash=hash_secret(key), prefix=key[:10], label=label)
    return key


async def require_center(request: web.Request) -> CenterKey:
    """The calling centre's key (401 when missing, wrong or revoked)."""
    key = request.headers.get("X-Api-Key", "")
    if not key:
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "ApiKey"})
    row = await CenterKey.get_or_none(key_hash=hash_secret(key), revoked_at=None)
    if row is None:
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "ApiKey"})
    now = datetime.now(UTC)
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        await CenterKey.filter(id=row.id).update(last_used_at=now)  # at most once a minute
    return row
