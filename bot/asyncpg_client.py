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


def engine_config(credentials: dict[str, Any]) -> dict[str, Any]:
    """The Tortoise connection config for this client."""
    return {"engine": __name__, "credentials": credentials}


client_class = ResilientAsyncpgClient
