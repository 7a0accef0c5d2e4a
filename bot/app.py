"""The application factory: settings in, a ready aiohttp application out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from bot import db, outbox, scheduler
from bot.api import error_middleware
from bot.health import Heartbeats, expected_migrations
from bot.keys import (
    heartbeats_key,
    http_key,
    metrics_key,
    migrations_key,
    outbox_wakeup_key,
    policy_key,
    settings_key,
    tasks_key,
    wechat_api_key,
)
from bot.logs import access_middleware
from bot.metrics import Metrics
from bot.settings import Settings, reveal
from bot.storage import storage_ctx

if TYPE_CHECKING:
    from bot.conversation import RowCache

log = logging.getLogger(__name__)
# These libraries log every SQL statement with its parameters at DEBUG: free text users type
# (a complaint with a phone number in it) would reach the logs. Keep them quiet at any level.
QUIET_LOGGERS = ("tortoise.db_client", "tortoise", "aiosqlite", "asyncpg")


def create_app(settings: Settings, *, wechat_api=None) -> web.Application:
    """Build the application. `wechat_api` replaces the WeChat client (tests pass none: they
    point BOT_WECHAT_API_BASE at a fake server instead)."""
    from handlers import setup_routes
    from models.policy import load_policy

    settings = settings.resolve_dev_defaults()
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).level))
    app = web.Application(
        middlewares=[access_middleware, error_middleware], client_max_size=11 * 1024 * 1024
    )
    app[settings_key] = settings
    app[policy_key] = load_policy(settings.policy)
    app[metrics_key] = Metrics()
    app[outbox_wakeup_key] = asyncio.Event()
    app[tasks_key] = set()
    app[heartbeats_key] = Heartbeats()
    app[migrations_key] = expected_migrations(db.MIGRATIONS)
    app.on_startup.append(log_policy)
    app.cleanup_ctx.append(orm_ctx)
    app.cleanup_ctx.append(batcher_ctx)
    app.cleanup_ctx.append(http_ctx(wechat_api))
    app.cleanup_ctx.append(storage_ctx)
    if settings.background:
        app.cleanup_ctx.append(background_ctx)
    app.on_shutdown.append(begin_shutdown)
    setup_routes(app)
    return app


async def log_policy(app: web.Application) -> None:
    """Say at start which regional policy rules the deadlines, and whether working-day deadlines
    of this year or next would be counted without the official arrangement (调休), so someone
    adds the notice to the policy."""
    from models.calendar import calendar_gaps, local_today

    policy = app[policy_key]
    log.info("regional policy %s (%s)", policy.name, policy.label_zh)
    for year in calendar_gaps(
        local_today(app[settings_key].timezone), policy.extra_holidays, policy.extra_workdays
    ):
        log.warning(
            "no official holiday arrangement for %s: working-day deadlines count the "
            "statutory holidays without make-up days; put the State Council's notice in "
            "the policy (extra_holidays, extra_workdays)",
            year,
        )


async def orm_ctx(app: web.Application) -> AsyncIterator[None]:
    async with db.orm(app[settings_key]):
        yield


async def batcher_ctx(app: web.Application) -> AsyncIterator[None]:
    """The chat engine's group-commit batcher; in-flight batches finish before the ORM closes."""
    from tortoise import connections

    from bot.asyncpg_client import KeptConnections
    from bot.conversation import Batcher, RowCache, batcher_key, kept_key, row_cache_key

    settings = app[settings_key]  # sqlite has one writer: a second batch would only wait
    app[batcher_key] = Batcher(app, lanes=settings.chat_lanes if settings.is_postgres else 1)
    sweeper = None
    if settings.is_postgres and settings.chat_cache_rows:
        cache = app[row_cache_key] = RowCache(
            settings.chat_cache_rows, settings.conversation_timeout
        )
        sweeper = asyncio.create_task(_sweep_every_minute(cache))
    if settings.is_postgres:
        app[kept_key] = KeptConnections(connections.get("default"))
    yield
    if sweeper is not None:
        sweeper.cancel()
    await app[batcher_key].close()
    if kept_key in app:
        await app[kept_key].release()  # before the pool closes: it waits for every connection


async def _sweep_every_minute(cache: RowCache) -> None:
    """Kept conversation rows go once their user has been idle for the ttl, traffic or not."""
    while True:
        await asyncio.sleep(60)
        cache.sweep()


def http_ctx(wechat_api):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from bot.wechat.api import WeChatAPI

        s = app[settings_key]
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app[http_key] = session
        app[wechat_api_key] = wechat_api or WeChatAPI(
            session,
            base_url=s.wechat_api_base,
            app_id=s.wechat_app_id,
            app_secret=reveal(s.wechat_app_secret),
            wxa_app_id=s.wxa_app_id,
            wxa_app_secret=reveal(s.wxa_app_secret),
        )
        yield
        await session.close()

    return ctx


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    """The outbox dispatcher and the scheduler, started after the ORM, stopped before it.

    On shutdown each finishes the round it is in (a push being sent is recorded as sent, not
    sent again by another worker later); what is still running after BOT_SHUTDOWN_TIMEOUT is
    cancelled.
    """
    tasks, beats = app[tasks_key], app[heartbeats_key]
    for name, coro in (("outbox", outbox.Dispatcher(app).run()), ("scheduler", scheduler.run(app))):
        beats.register(name)
        task = asyncio.create_task(coro, name=name)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    yield
    beats.stop()
    if tasks:
        _, late = await asyncio.wait(
            list(tasks), timeout=beats.time_left(app[settings_key].shutdown_timeout)
        )
        for task in late:
            log.warning("%s did not finish its round in time; cancelled", task.get_name())
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def begin_shutdown(app: web.Application) -> None:
    """The server stopped listening: health says so, background tasks end after this round."""
    app[heartbeats_key].stop()
