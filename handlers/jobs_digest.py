"""Scheduled digests: each region's daily digest at policy.digest_time (local), weekly on Mondays.

The scheduler's periods are fixed at import, but the digest time is policy (per deployment), so
the job ticks every 5 minutes and decides itself: before the digest time nothing happens; after
it, each region not yet served in this day (or ISO week) gets its digest and a job_run row
`digest:<period>:<region>` marks it done. A worker dying between the two re-sends nothing: the
outbox dedupe key of the digest is the same region and day.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.keys import policy_key, settings_key
from bot.outbox import wake
from bot.scheduler import every, job
from handlers.records import digest
from models.jobs import JobRun

log = logging.getLogger(__name__)
MONDAY = 0


async def run_due(app: web.Application, now: datetime) -> list[str]:
    """Send the digests due at `now`; returns 'period:region' for each one sent."""
    settings, policy = app[settings_key], app[policy_key]
    local = now.astimezone(ZoneInfo(settings.timezone))
    if local.time() < policy.digest_time:
        return []
    periods = [("daily", local.date().isoformat())]
    if local.weekday() == MONDAY:
        periods.append(("weekly", f"{local:%G-W%V}"))
    sent = []
    for region in await digest.regions():
        for period, key in periods:
            name = f"digest:{period}:{region}"
            if await JobRun.exists(name=name, period=key):
                continue
            _, _, _, n = await digest.send(settings, policy, region, period, now=now)
            await JobRun.bulk_create([JobRun(name=name, period=key)], ignore_conflicts=True)
            log.info("%s digest for %s queued to %d staff", period, region, n)
            sent.append(f"{period}:{region}")
    if sent:
        wake(app)
    return sent


@job("digest", every(5))
async def digest_job(app: web.Application, now: datetime) -> None:
    """Queues the digests whose time has come and that were not sent in their period yet."""
    await run_due(app, now)
