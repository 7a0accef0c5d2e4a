"""Plain mode's missing body signature, made up for: one body per (timestamp, nonce).

In plain mode WeChat's `signature` covers only token, timestamp and nonce — not the body. Anyone
who saw one delivery's query string (an access log, a proxy) could post any text as any user
with it until the timestamp goes stale. WeChat never sends two different bodies under one
(timestamp, nonce), so the first body seen under a pair is the only one accepted; the pairs
live in the database so every worker shares them, and are forgotten once their timestamp
would be refused as stale anyway.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot.keys import settings_key
from bot.scheduler import every, job
from bot.wechat.protocol import ProtocolError
from models.inbound import PlainNonce

NO_SKEW_RETENTION = timedelta(days=7)  # with the clock check off, as long as dedupe rows live
MIN_RETENTION = timedelta(minutes=10)  # a little beyond WeChat's 300 s default skew


def _digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\n".join(parts)).hexdigest()


async def check_plain_body(query: dict[str, str], body: bytes) -> None:
    """Records the body under its (timestamp, nonce); a different body under a pair seen
    before is a forgery (403 `replay`). The same body again is WeChat retrying: let it pass
    to the dedupe, which answers it as before."""
    key = _digest(query.get("timestamp", "").encode(), query.get("nonce", "").encode())
    body_hash = _digest(body)
    try:
        await PlainNonce.create(key=key, body_hash=body_hash)
        return
    except IntegrityError:
        seen = await PlainNonce.get_or_none(key=key)
    if seen is not None and not hmac.compare_digest(seen.body_hash, body_hash):
        raise ProtocolError(403, "replay")


def retention(max_skew: int) -> timedelta:
    """How long a pair must be remembered: while its timestamp could still pass the check."""
    if not max_skew:
        return NO_SKEW_RETENTION
    return max(MIN_RETENTION, timedelta(seconds=2 * max_skew))


@job("purge_plain_nonces", every(10))
async def purge_plain_nonces(app: web.Application, now: datetime) -> None:
    """Forgets (timestamp, nonce) pairs old enough to be refused as stale anyway."""
    keep = retention(app[settings_key].wechat_max_clock_skew)
    await PlainNonce.filter(seen_at__lt=now - keep).delete()
