"""Rate limits for HTTP endpoints (login and the like): 429 with Retry-After.

Counters are rows locked for the update, so several workers share one limit. Chat messages are
limited separately, on the user's conversation row (bot.conversation), at no extra query.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

from aiohttp import web
from tortoise.transactions import in_transaction

from bot.api import ApiError
from bot.clientaddr import client_address
from bot.scheduler import every, job
from models.ratelimit import RateBucket

KEY_MAX = 128  # RateBucket.key's column width
BUCKET_RETENTION = timedelta(hours=1)  # the longest window in use is a minute


def bucket_key(name: str, who: str) -> str:
    """`name:who`, or its hash when that would not fit the column (never a 500 on a long key)."""
    key = f"{name}:{who}"
    if len(key) <= KEY_MAX and key.isascii():
        return key
    return f"{name}:sha256:{hashlib.sha256(key.encode('utf-8', 'replace')).hexdigest()}"


async def hit(key: str, limit: int, window_seconds: int) -> float | None:
    """Count one request under `key`; returns seconds to wait when over the limit."""
    now = datetime.now(UTC)
    window = timedelta(seconds=window_seconds)
    async with in_transaction() as conn:
        bucket = await RateBucket.select_for_update().using_db(conn).get_or_none(key=key)
        if bucket is None:
            await RateBucket.bulk_create(
                [RateBucket(key=key, window_start=now, count=0)],
                ignore_conflicts=True,
                using_db=conn,
            )
            bucket = await RateBucket.select_for_update().using_db(conn).get(key=key)
        if now - bucket.window_start >= window:
            bucket.window_start, bucket.count = now, 0
        bucket.count += 1
        await bucket.save(using_db=conn)
        if bucket.count > limit:
            return max(1.0, (bucket.window_start + window - now).total_seconds())
    return None


async def enforce(request: web.Request, name: str, limit: int, window_seconds: int) -> None:
    wait = await hit(bucket_key(name, client_address(request)), limit, window_seconds)
    if wait is not None:
        raise ApiError(429, "rate_limited", headers={"Retry-After": str(math.ceil(wait))})


@job("purge_rate_buckets", every(60))
async def purge_buckets(app: web.Application, now: datetime) -> None:
    """Forgets counters whose window ended long ago (one row per address ever seen otherwise)."""
    await RateBucket.filter(window_start__lt=now - BUCKET_RETENTION).delete()
