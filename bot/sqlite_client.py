"""The sqlite client, with the statements that never wait run on the event loop's thread.

aiosqlite runs every statement in its worker thread: a queue, a thread switch, a wake-up of the
loop — and the two threads taking turns at the GIL while requests are being parsed. That costs
more than the statement itself: a chat batch's six hand-offs were a third of the webhook's CPU
(bench/webhook.py). Two kinds of statement cannot wait for anyone, so they run right here:

- `BEGIN` (deferred): it takes no lock. Tortoise's transaction also sends a `COMMIT` first, in
  case one was left open; here that is done only when one is (`in_transaction`).
- reads that the chat engine sends inside its transaction (`inline()`; bot/engine_sql.py): in
  WAL mode a reader never waits for a writer.

Writes and `COMMIT` still go through the worker thread, because they may wait up to
busy_timeout for a CLI command's write, and the loop must not stop meanwhile. The engine sends
its writes and the COMMIT in one hand-off (`run_and_commit`).

The connection is opened with `check_same_thread=False` so both threads may use it. They do
not at once: every statement outside a transaction, and every transaction, holds the client's
lock, and the engine's statements run inside its transaction one after another. One exception:
a task cancelled while its statement runs gives the lock back before the worker is done (as
with Tortoise's own client). sqlite serialises the two (its connections are thread-safe), so
the loop may then wait for that statement to end; a BEGIN that meets it goes to the worker.
When the database is not in WAL mode (a file system without shared memory), reads go to the
worker too.

Tortoise loads this module as the engine of a `sqlite://` URL (bot.db.connection_config); its
name contains "sqlite" because Tortoise's migrations pick their schema editor by the client's
module name. It leans on three private names — aiosqlite's `Connection._conn` (Tortoise's own
client uses it) and `Connection._execute`, and Tortoise's `SqliteTransactionWrapper` internals —
each checked by tests/test_production.py, so an upgrade that moves them fails loudly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
    translate_exceptions,
)
from tortoise.exceptions import TransactionManagementError

T = TypeVar("T")


class InlineSqliteTransactionWrapper(SqliteTransactionWrapper):
    """A transaction whose BEGIN, and the engine's reads, run on the loop's thread."""

    async def begin(self) -> None:
        raw = self._connection._conn
        try:
            if raw.in_transaction:  # left open by someone: end it where a COMMIT may wait
                await self._connection.commit()
            raw.execute("BEGIN")  # deferred: takes no lock, so it never waits
            return
        except sqlite3.OperationalError:
            pass  # a statement whose task was cancelled may still be running in the worker
        try:  # behind it, as Tortoise's own client does
            await self._connection.commit()
            await self._connection.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc

    def inline(self) -> sqlite3.Connection | None:
        """The sqlite3 connection, for a read inside this transaction; None when reads could
        wait (the database is not in WAL mode), and the read goes to the worker."""
        return self._connection._conn if getattr(self._parent, "reads_inline", False) else None

    @translate_exceptions  # sqlite's errors become Tortoise's, as for any query
    async def fetch_rows(self, sql: str, params: list) -> list:
        """A read inside this transaction: on this thread when it cannot wait (`inline`),
        else through the worker."""
        raw = self.inline()
        if raw is not None:
            return raw.execute(sql, params).fetchall()
        return list(await self._connection.execute_fetchall(sql, params))

    @translate_exceptions
    async def run_in_worker(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` in aiosqlite's worker thread, in one hand-off (statements that may
        wait for the write lock)."""
        return await self._connection._execute(fn, self._connection._conn)

    async def run_and_commit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`run_in_worker`, then COMMIT in the same hand-off: for the transaction's last
        statements. The transaction is then finished; its context has nothing left to do."""

        def last(raw: sqlite3.Connection) -> T:
            out = fn(raw)
            raw.execute("COMMIT")
            return out

        out = await self.run_in_worker(last)
        self._finalized = True
        return out


class InlineSqliteClient(SqliteClient):
    reads_inline = False  # set on connecting: the database is in WAL mode (or in memory)

    async def create_connection(self, with_db: bool) -> None:
        """Tortoise's own, but the connection may be used from the loop's thread too."""
        if not self._connection:
            self._connection = await aiosqlite.connect(
                self.filename, isolation_level=None, check_same_thread=False
            )
            self._connection._conn.row_factory = sqlite3.Row
            for pragma, val in self.pragmas.items():
                cursor = await self._connection.execute(f"PRAGMA {pragma}={val}")
                await cursor.close()
            mode = await self._connection.execute_fetchall("PRAGMA journal_mode")
            # WAL: a reader never waits for a writer; in memory there is one connection
            self.reads_inline = str(next(iter(mode))[0]).lower() in ("wal", "memory")
            await self._post_connect()

    def _in_transaction(self) -> SqliteTransactionContext:
        return SqliteTransactionContext(InlineSqliteTransactionWrapper(self), self._lock)


def engine_config(credentials: dict[str, Any]) -> dict[str, Any]:
    """The Tortoise connection config for this client."""
    return {"engine": __name__, "credentials": credentials}


client_class = InlineSqliteClient
