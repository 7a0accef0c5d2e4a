"""Periodic jobs: one asyncio task per worker; one leader per tick on PostgreSQL.

A job declares how to name the current period (a date for a daily job, a 5-minute bucket for a
sweep, None when not due yet); it runs once per period, recorded in job_run. Jobs are idempotent
on their own too (outbox dedupe keys), so a leader dying mid-job and the next one re-running it
sends nothing twice. On PostgreSQL the tick holds a transaction-scoped advisory lock: only one
worker runs jobs at a time, and a dead leader's lock dies with its connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from tortoise.transactions import in_transaction

from bot.db import is_postgres, try_leader_lock
from bot.keys import heartbeats_key, metrics_key, settings_key
from models.inbound import InboundMessage
from models.jobs import JobRun

log = logging.getLogger(__name__)
LEADER_LOCK = 0x1E6A1A1D  # advisory lock id for the scheduler; any constant unique to us

Period = Callable[[datetime], str | None]  # local now -> period key, None = not due


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    period: Period
    run: Callable[[web.Application, datetime], Awaitable[None]]


JOBS: list[Job] = []


def job(name: str, period: Period) -> Callable:
    def deco(fn: Callable[[web.Application, datetime], Awaitable[None]]) -> Callable:
        JOBS.append(Job(name, period, fn))
        return fn

    return deco


def every(minutes: int) -> Period:
    def period(local: datetime) -> str:
        bucket = (local.hour * 60 + local.minute) // minutes
        return f"{local:%Y-%m-%d}/{bucket}"

    return period


def daily_at(hhmm: str) -> Period:
    at = time.fromisoformat(hhmm)

    def period(local: datetime) -> str | None:
        return f"{local:%Y-%m-%d}" if local.time() >= at else None

    return period


def weekly_at(weekday: int, hhmm: str) -> Period:
    at = time.fromisoformat(hhmm)

    def period(local: datetime) -> str | None:
        if local.weekday() != weekday or local.time() < at:
            return None
        return f"{local:%G-W%V}"

    return period


async def tick(app: web.Application, now: datetime | None = None) -> list[str]:
    """Run the jobs due now that have not run in their period; returns the names run."""
    now = now or datetime.now(UTC)
    local = now.astimezone(ZoneInfo(app[settings_key].timezone))
    due = [(j, key) for j in JOBS if (key := j.period(local))]
    if not due:
        return []
    if is_postgres():
        async with in_transaction() as conn:
            if not await try_leader_lock(conn, LEADER_LOCK):
                return []
            return await _run_due(app, due, now)
    return await _run_due(app, due, now)


async def _run_due(app: web.Application, due: list[tuple[Job, str]], now: datetime) -> list[str]:
    done = {
        (r.name, r.period)
        for r in await JobRun.filter(
            name__in=[j.name for j, _ in due], period__in=list({k for _, k in due})
        )
    }
    ran = []
    for j, key in due:
        if (j.name, key) in done:
            continue
        try:
            await j.run(app, now)
        except Exception:  # one failing job must not stop the others; it retries next tick
            log.exception("job %s (%s) failed", j.name, key)
            app[metrics_key].errors.labels("job:" + j.name).inc()
            continue
        await JobRun.bulk_create([JobRun(name=j.name, period=key)], ignore_conflicts=True)
        app[metrics_key].jobs.labels(j.name).inc()
        ran.append(j.name)
    return ran


async def run(app: web.Application) -> None:
    """Tick until shutdown; a tick that fails (database restarting) is tried again next time."""
    interval = app[settings_key].scheduler_interval
    beats = app[heartbeats_key]
    while not beats.stopping:
        try:
            await tick(app)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database restarting: try again next tick
            beats.failed("scheduler", exc)
            app[metrics_key].errors.labels("scheduler").inc()
        else:
            beats.completed("scheduler")
        await beats.sleep(None, interval)


# --- housekeeping jobs of the engine itself ------------------------------------------------

INBOUND_RETENTION = timedelta(days=7)  # WeChat retries within seconds; a week is plenty


@job("purge_inbound", daily_at("03:00"))
async def purge_inbound(app: web.Application, now: datetime) -> None:
    """Forgets dedupe rows of messages older than a week (their replies hold user text)."""
    await InboundMessage.filter(received_at__lt=now - INBOUND_RETENTION).delete()
