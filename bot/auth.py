"""Credentials: the centre's API keys (X-Api-Key) and mini-program session tokens (Bearer).

Secrets are stored only as hashes."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.api import ApiError
from models.credentials import hash_secret
from models.people import CenterKey

REGION = re.compile(r"^\d{6}$")  # GB/T 2260 administrative division code
CENTER_KEY_PREFIX = "lak_"  # makes a leaked key recognisable to secret scanners


CREDENTIAL_MAX = 256  # our keys and tokens are 47 characters


def credential_shaped(value: str) -> bool:
    """Could be one of our keys or tokens: printable ASCII of sane length. Anything else (a
    header with non-ASCII bytes, which aiohttp decodes to surrogates) is simply wrong — 401,
    never a hashing error."""
    return 0 < len(value) <= CREDENTIAL_MAX and value.isascii() and value.isprintable()


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
    if not credential_shaped(key):
        raise ApiError(
            401, "unauthorized", message_key="error.api_key", headers={"WWW-Authenticate": "ApiKey"}
        )
    row = await CenterKey.get_or_none(key_hash=hash_secret(key), revoked_at=None)
    if row is None:
        raise ApiError(
            401, "unauthorized", message_key="error.api_key", headers={"WWW-Authenticate": "ApiKey"}
        )
    now = datetime.now(UTC)
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        await CenterKey.filter(id=row.id).update(last_used_at=now)  # at most once a minute
    return row


# --- mini-program session tokens (Authorization: Bearer) --------------------------------------

TOKEN_PREFIX = "lat_"  # legal-aid token: recognisable to secret scanners, like CENTER_KEY_PREFIX


async def issue_login_token(openid: str, ttl_days: int) -> tuple[str, datetime]:
    """A new opaque bearer token for a mini-program openid; only its hash is stored."""
    from models.agent import SessionToken

    token = new_secret(TOKEN_PREFIX)
    expires_at = datetime.now(UTC) + timedelta(days=ttl_days)
    await SessionToken.create(token_hash=hash_secret(token), openid=openid, expires_at=expires_at)
    return token, expires_at


def bearer_token(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def verify_login_token(token: str):
    """The live SessionToken for `token`, or None when unknown, expired or revoked."""
    from models.agent import SessionToken

    if not credential_shaped(token):
        return None
    row = await SessionToken.get_or_none(token_hash=hash_secret(token), revoked_at=None)
    if row is None or row.expires_at <= datetime.now(UTC):
        return None
    return row


async def revoke_login_token(token: str) -> bool:
    from models.agent import SessionToken

    if not credential_shaped(token):
        return False
    n = await SessionToken.filter(token_hash=hash_secret(token), revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    return bool(n)


async def require_session(request: web.Request):
    """The caller's mini-program session (401 when the token is missing, wrong or expired)."""
    row = await verify_login_token(bearer_token(request))
    if row is None:
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
    return row


async def agent_of(openid: str):
    """The active agent bound to this mini-program openid, or None."""
    from models.agent import Agent

    return await Agent.get_or_none(wxa_openid=openid, active=True)


async def require_agent(request: web.Request):
    """The bound, active agent calling (401 without a valid token, 403 when not an agent)."""
    session = await require_session(request)
    agent = await agent_of(session.openid)
    if agent is None:
        raise ApiError(403, "not_agent")
    return agent
