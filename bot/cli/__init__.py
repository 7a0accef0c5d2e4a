"""CLI commands. Helpers shared by the commands that work on the database directly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.settings import Settings

T = TypeVar("T")


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr as text, or one JSON object per line (BOT_LOG_FORMAT=json)."""
    from bot.logs import configure_logging as configure

    configure(level, fmt)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Tortoise says "Tortoise-ORM shutdown" (INFO) when a command closes the database: noise
        # at the end of every command's output, and nothing an operator acts on.
        logging.getLogger("tortoise").setLevel(logging.WARNING)


def run_with_db(fn: Callable[[Settings], Awaitable[T]]) -> T:
    """Open the database (migrating it), run `fn(settings)`, close it."""
    from bot import db

    async def go() -> T:
        settings = Settings().resolve_dev_defaults()
        async with db.orm(settings):
            return await fn(settings)

    return asyncio.run(go())
