"""Rate limits for HTTP endpoints (login and the like): 429 with Retry-After.

Counters are rows locked for the update, so several workers share one limit. Chat messages are
limited separately, on the user's conversation row (bot.conversation), at no extra query.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from aiohttp import web
from tortoise.transactions import in_transaction

from bot.api import ApiError
from models.ratelimit import RateBucket


async def hit(key: str, limit: int, window_seconds: int) -> float | None:
    """Count one request under `key`; returns seconds to wait when over the limit."""
    now = datetime.now(UTC)
    window = timedelta(seconds=window_seconds)
    async with in_transaction() as conn:
        bucket = await RateBucket.select_for_update().using_db(conn).get_or_none(key=key)
        if bucket is None:
            await RateBucket.bulk_create([RateBucket(key=key, window_start=now, count=0)],
                                         ignore_conflicts=True, using_db=conn)
            bucket = await RateBucket.select_for_update().using_db(conn).get(key=key)
        if now - bucket.window_start >= window:
            bucket.window_start, bucket.count = now, 0
        bucket.count += 1
        await bucket.save(using_db=conn)
        if bucket.count > limit:
            return max(1.0, (bucket.window_start + window - now).total_seconds())
    return None


def client_address(request: web.Request) -> str:
    """The caller's address: behind the documented nginx, the last X-Forwarded-For hop (the one
    our proxy appended; earlier hops are whatever the client claimed)."""
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    return forwarded or request.remote or "unknown"


async def enforce(request: web.Request, name: str, limit: int, window_seconds: int) -> None:
    wait = await hit(f"{name}:{client_address(request)}", limit, window_seconds)
    if wait is not None:
        raise ApiError(429, "rate_limited", headers={"Retry-After": str(math.ceil(wait))})
