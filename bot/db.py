"""Tortoise ORM set-up: config from settings, migrations, transactions, the leader lock."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.executor import MigrationExecutor

from bot import asyncpg_client, sqlite_client
from bot.settings import Settings, reveal
from models import MODEL_MODULES
from models import fields as encrypted_fields

log = logging.getLogger(__name__)
APP_LABEL = "models"
MIGRATIONS = "models.migrations"
# sqlite: WAL with synchronous=NORMAL survives a process crash and costs no fsync per commit;
# busy_timeout lets the CLI write while the server runs.
SQLITE_PRAGMAS = "journal_mode=WAL&synchronous=NORMAL&busy_timeout=5000"


def database_url(settings: Settings) -> str:
    url = settings.db_url
    if url.startswith("sqlite://") and ":memory:" not in url:
        Path(url.removeprefix("sqlite://").split("?")[0]).parent.mkdir(parents=True, exist_ok=True)
        if "?" not in url:
            url += "?" + SQLITE_PRAGMAS
    return url


def connection_config(settings: Settings) -> str | dict:
    """The default connection: on sqlite our client that runs statements which cannot wait on
    the loop's thread (bot/sqlite_client.py); on PostgreSQL the pool's release hook, and our
    client that recovers from connections PostgreSQL ended (bot/asyncpg_client.py)."""
    url = database_url(settings)
    config = expand_db_url(url)
    if not settings.is_postgres:
        if config["engine"] == "tortoise.backends.sqlite":
            return sqlite_client.engine_config(config["credentials"])
        return url
    config["credentials"]["reset"] = release_connection
    if config["engine"] == "tortoise.backends.asyncpg":
        config = asyncpg_client.engine_config(config["credentials"])
    return config


async def release_connection(conn: Any) -> None:
    """The pool's reset hook for a PostgreSQL connection going back to the pool: nothing.

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: one more round trip per transaction, a sixth of a chat batch's. We leave
    no session state behind (no SET, LISTEN or cursor; the one session advisory lock, the
    migration's, is released in a finally); a transaction left open by an error is rolled back
    by asyncpg itself before this hook runs.
    """


def tortoise_config(settings: Settings) -> dict:
    return {
        "connections": {"default": connection_config(settings)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "migrations": MIGRATIONS,
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the tortoise CLI (`tortoise -c bot.db.TORTOISE_ORM makemigrations`): default settings.
def _cli_config() -> dict:
    return tortoise_config(Settings())


MIGRATION_LOCK = 0x1E6A1A1E  # advisory lock id: one worker migrates, the others wait


async def migrate() -> None:
    """Apply committed migrations on the open default connection (idempotent).

    On PostgreSQL several workers may start at once: the first takes an advisory lock and
    migrates; the others wait for it, then find nothing to do.
    """
    config = {APP_LABEL: {"models": MODEL_MODULES, "migrations": MIGRATIONS}}
    if connections.get("default").capabilities.dialect != "postgres":
        await MigrationExecutor(connections.get("default"), config).migrate()
        return
    client = connections.get("default")
    async with client.acquire_connection() as raw:  # a session lock, held on this connection
        await raw.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await MigrationExecutor(client, config).migrate()
        finally:
            await raw.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


@asynccontextmanager
async def orm(settings: Settings, *, run_migrations: bool = True) -> AsyncIterator[None]:
    """Open the database (and migrate it) for the lifetime of the block."""
    assert settings.secret_key, "resolve_dev_defaults() first"
    old = [k.strip() for k in (reveal(settings.old_secret_keys) or "").split(",") if k.strip()]
    encrypted_fields.configure(settings.secret_key.get_secret_value(), old)
    # The global fallback lets aiohttp's request tasks, which do not inherit the start-up
    # task's context, see the ORM.
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    try:
        if run_migrations:
            await migrate()
        yield
    finally:
        await Tortoise.close_connections()


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def try_leader_lock(conn, key: int) -> bool:
    """Inside a transaction on PostgreSQL: take a transaction-scoped advisory lock if free.

    Only the holder runs scheduled jobs in that tick; the lock goes with the transaction, so a
    crashed leader never blocks the others. sqlite has one process, which is always the leader.
    """
    if conn.capabilities.dialect != "postgres":
        return True
    row = await conn.execute_query_dict("SELECT pg_try_advisory_xact_lock($1) AS ok", [key])
    return bool(row[0]["ok"])
