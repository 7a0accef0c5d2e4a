"""The asyncpg client, made to survive connections that PostgreSQL ends.

A failover, a restart or `pg_terminate_backend` closes our connections. Tortoise's pooled
transaction (1.1) makes the transaction the task's current connection *before* it sends BEGIN;
when BEGIN fails on a dead connection, neither the task's connection nor the pool slot is given
back. A long-lived task (outbox dispatcher, scheduler, the chat batcher) then runs every later
query on that dead or recycled connection — "connection has been released back to the pool",
"connection is closed", or worse, another task's connection — until the process restarts.

Here a failed start of a transaction undoes both, so the next round takes a fresh connection.
Tortoise loads this module as the engine of a `postgres://` URL (see bot.db.connection_config);
its name contains "asyncpg" because Tortoise's migrations pick their schema editor by the
client's module name.
"""

from __future__ import annotations

import logging
from typing import Any

from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import TransactionalDBClient, TransactionContextPooled
from tortoise.connection import get_connections

log = logging.getLogger(__name__)


class SafeTransactionContext(TransactionContextPooled):
    """A pooled transaction that leaves nothing behind when it cannot start."""

    async def __aenter__(self) -> TransactionalDBClient:
        try:
            return await super().__aenter__()
        except BaseException:
            await self._undo_start()
            raise

    async def _undo_start(self) -> None:
        """Restores the task's connection and returns the pool slot taken for this transaction."""
        token = getattr(self, "token", None)
        if token is not None:
            get_connections().reset(token)
        conn, self.client._connection = self.client._connection, None
        pool = self.client._parent._pool
        if conn is None or pool is None:
            return
        try:
            await pool.release(conn)  # a closed connection is dropped and replaced by asyncpg
        except Exception as exc:  # the slot is lost either way; the original error matters
            log.debug("releasing a connection that failed to BEGIN: %s", type(exc).__name__)


class ResilientAsyncpgClient(AsyncpgDBClient):
    def _in_transaction(self) -> SafeTransactionContext:
        return SafeTransactionContext(TransactionWrapper(self), self._pool_init_lock)


# Session settings of every pooled connection. Our statements are prepared once per
# connection (asyncpg's statement cache); in its default mode, PostgreSQL still plans the chat
# batch's statements again on every run (their `= ANY($1)` arrays make a generic plan look
# dearer than it is), 0.4 ms of its CPU each time. Our queries are indexed lookups: a plan
# made once serves them. `?plan_cache_mode=auto` in the URL restores the default.
SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}


def engine_config(credentials: dict[str, Any]) -> dict[str, Any]:
    """The Tortoise connection config for this client."""
    credentials = dict(credentials)
    settings = {**SERVER_SETTINGS, **(credentials.pop("server_settings", None) or {})}
    for name in SERVER_SETTINGS:  # given in the URL's query string
        if name in credentials:
            settings[name] = str(credentials.pop(name))
    return {"engine": __name__, "credentials": {**credentials, "server_settings": settings}}


client_class = ResilientAsyncpgClient
