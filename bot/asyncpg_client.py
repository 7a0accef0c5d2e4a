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

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import TransactionalDBClient, TransactionContextPooled
from tortoise.connection import get_connections
from tortoise.exceptions import IntegrityError

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


class KeptConnections:
    """Statements outside a transaction on a connection kept between back-to-back uses.

    The chat engine's optimistic batches (bot.conversation._optimistic) are one statement each,
    run one after another under load. Through the client, each took a connection from the pool
    and gave it back: about 45 µs of CPU a statement on top of the round trip, a third of its
    cost. Here one connection stays out of the pool while batches follow each other, and goes
    back when the batcher has nothing left to do, or is about to open a transaction (`release`);
    a second lane's statement (BOT_CHAT_LANES) gives its connection back at once. What
    execute_query gives and raises is what the client's would (rows; IntegrityError for a
    taken unique key). A connection that is closed, or whose statement did not end with an
    error PostgreSQL reported (lost, cancelled mid-statement), is never used again.
    """

    def __init__(self, client: AsyncpgDBClient) -> None:
        self.client = client
        self.spare: list[asyncpg.Connection] = []  # at most one

    async def pool(self) -> asyncpg.Pool:
        if self.client._pool is None:  # what the client's own statements do first
            await self.client.create_connection(with_db=True)
        assert self.client._pool is not None
        return self.client._pool

    async def execute_query(self, query: str, values: list | None = None) -> tuple[int, list]:
        con = self.spare.pop() if self.spare else None
        if con is not None and con.is_closed():
            await self._drop(con)
            con = None
        if con is None:
            con = await (await self.pool()).acquire()
        try:
            rows = await con.fetch(query, *(values or ()))
        except asyncpg.PostgresError as exc:  # reported by PostgreSQL: the statement failed
            await self._keep(con)
            if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
                raise IntegrityError(exc) from exc
            raise
        except BaseException:
            con.terminate()
            await self._drop(con)
            raise
        await self._keep(con)
        return len(rows), rows

    async def release(self) -> None:
        """The kept connection back to the pool."""
        while self.spare:
            await self._drop(self.spare.pop())

    async def _keep(self, con: asyncpg.Connection) -> None:
        if self.spare or con.is_closed() or con.is_in_transaction():
            await self._drop(con)  # one is kept already, or this one is not fit to be
        else:
            self.spare.append(con)

    async def _drop(self, con: asyncpg.Connection) -> None:
        try:
            await (await self.pool()).release(con)  # a closed one is replaced by asyncpg
        except Exception as exc:
            log.debug("releasing a kept connection: %s", type(exc).__name__)


def engine_config(credentials: dict[str, Any]) -> dict[str, Any]:
    """The Tortoise connection config for this client."""
    return {"engine": __name__, "credentials": credentials}


client_class = ResilientAsyncpgClient
