"""The conversation engine's statements, written out once per dialect instead of built per batch.

Every batch of inbound messages locks its users' conversation rows, looks up which messages were
answered already, records the new ones and saves the changed state. Building those statements
through the ORM's query builder, and hydrating rows through its generic path, was a third of the
webhook's time (bench/webhook.py). Here they are plain SQL, cached per dialect and size; the
values still go through each field's `to_db_value`, and rows through `Model._init_from_db`, so
what is written and read is exactly what the ORM would write and read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from tortoise import fields

from models.conversation import Conversation
from models.inbound import InboundMessage

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient
    from tortoise.models import Model

M = TypeVar("M", bound="Model")


def _pg(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def _marks(pg: bool, count: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count)) if pg else ", ".join("?" * count)


def _column(model: type[Model], field: str) -> str:
    return model._meta.fields_db_projection[field]


@cache
def _columns_of(model: type[Model], kind: type[fields.Field]) -> tuple[str, ...]:
    """The model's columns whose field is a `kind` (DatetimeField, JSONField ...)."""
    return tuple(
        _column(model, name) for name, f in model._meta.fields_map.items() if isinstance(f, kind)
    )


# An idle user's JSON columns hold these; a new object each time (steps change them in place)
_JSON_LITERALS: dict[str, Callable[[], object]] = {"{}": dict, "[]": list, "null": lambda: None}


def hydrate(model: type[M], row) -> M:
    """A model instance from a raw row, as the ORM builds it.

    sqlite returns datetimes as the text the ORM stored (`isoformat(" ")`); parsing it with
    the C `fromisoformat` first spares the ORM's pure-Python ISO 8601 parser. An empty JSON
    object, list or null is made without the JSON decoder.
    """
    values = dict(row)
    for col in _columns_of(model, fields.JSONField):
        value = values.get(col)
        if isinstance(value, str):
            make = _JSON_LITERALS.get(value)
            if make is not None:
                values[col] = make()
    for col in _columns_of(model, fields.DatetimeField):
        value = values.get(col)
        if isinstance(value, str):
            try:
                values[col] = datetime.fromisoformat(value)
            except ValueError:
                pass  # left to the ORM's parser, which accepts more spellings
    return model._init_from_db(**values)


@cache
def _lock_and_answered(pg: bool, keys: int, count: int, facts: tuple[tuple[str, str], ...]) -> str:
    """The batch's first statement: its users' rows, locked, each carrying (as `__answered`,
    a JSON object) the replies already given to any of the batch's message keys — the dedupe
    lookup and the lock in one round trip — and the registered facts about each user
    (bot.flowkit.register_fact: is the sender a bound agent, a handler ...) as `__fact_<name>`.

    On PostgreSQL the arrays are single parameters (`= ANY($1)`), so one prepared statement
    serves every batch size. ORDER BY: rows are locked in one order everywhere, so two batches
    never deadlock.
    """
    table, inbound = Conversation._meta.db_table, InboundMessage._meta.db_table
    extra = _fact_columns(facts)
    if pg:
        # The subqueries read the database as it was when the statement began; when it had to
        # wait for a row's lock, that row comes back as the holder committed it, but the facts
        # about its user may predate that commit (a bind in the other batch). `__seen_version`,
        # the row's version in that same early view, tells: if it differs, the facts are dropped
        # (_read_locked) and asked again after the lock.
        seen = f'(SELECT s."version" FROM "{table}" s WHERE s."openid" = c."openid")'
        return (
            f'SELECT c.*, (SELECT json_object_agg("dedupe_key", "reply") FROM "{inbound}" '
            f'WHERE "dedupe_key" = ANY($1::text[])) AS "__answered"{extra}, '
            f'{seen} AS "{SEEN_VERSION}" FROM "{table}" c '
            f'WHERE c."openid" = ANY($2::text[]) ORDER BY c."openid" FOR UPDATE OF c'
        )
    return (
        f'SELECT c.*, (SELECT json_group_object("dedupe_key", "reply") FROM "{inbound}" '
        f'WHERE "dedupe_key" IN ({_marks(pg, keys)})) AS "__answered"{extra} FROM "{table}" c '
        f'WHERE c."openid" IN ({_marks(pg, count)}) ORDER BY c."openid"'
    )


FACT_PREFIX = "__fact_"
SEEN_VERSION = "__seen_version"
XMIN = "__xmin"


def _fact_columns(facts: tuple[tuple[str, str], ...]) -> str:
    """The registered facts as extra columns of a select on the conversation `c`."""
    user = 'c."openid"'
    return "".join(f', ({sql.format(openid=user)}) AS "{FACT_PREFIX}{name}"' for name, sql in facts)


@cache
def _read_unlocked(facts: tuple[tuple[str, str], ...]) -> str:
    """PostgreSQL's first statement without a transaction (read_conversations): the lock
    statement's rows, locking nothing, each with its `xmin` — the row version's creating
    transaction, which every write to the row changes, whoever makes it."""
    table, inbound = Conversation._meta.db_table, InboundMessage._meta.db_table
    extra = _fact_columns(facts)
    return (
        f'SELECT c.*, c.xmin::text AS "{XMIN}", (SELECT json_object_agg("dedupe_key", "reply") '
        f'FROM "{inbound}" WHERE "dedupe_key" = ANY($1::text[])) AS "__answered"{extra} '
        f'FROM "{table}" c WHERE c."openid" = ANY($2::text[])'
    )


async def read_conversations(
    conn: BaseDBAsyncClient,
    openids: Sequence[str],
    keys: Sequence[str],
    facts: tuple[tuple[str, str], ...] = (),
) -> tuple[Locked, dict[str, str]] | None:
    """PostgreSQL, outside any transaction: what lock_conversations reads, without the lock,
    and each row's xmin for write_checked. None when a user has no row yet (a first message
    makes it under the lock)."""
    rows = (await conn.execute_query(_read_unlocked(facts), [list(keys) or [""], list(openids)]))[1]
    read, xmins = Locked({}, {}, {}), dict[str, str]()
    _read_locked(rows, facts, read, xmins)
    return (read, xmins) if len(read.convs) == len(openids) else None


@dataclass(slots=True)
class Locked:
    """What the batch's first statement found (lock_conversations)."""

    convs: dict[str, Conversation]  # openid -> its conversation, locked
    answered: dict[str, str | None]  # dedupe key -> the reply given before
    facts: dict[str, dict[str, object]]  # openid -> registered fact -> value


async def lock_conversations(
    conn: BaseDBAsyncClient,
    openids: Sequence[str],
    keys: Sequence[str] = (),
    facts: tuple[tuple[str, str], ...] = (),
) -> Locked:
    """Each user's row, locked (PostgreSQL; sqlite has one writer), created when missing; the
    replies given to those of `keys` handled before (WeChat's retries); and `facts` (name, SQL
    of a scalar subquery on `{openid}`) about each user.

    A reply committed by another worker while this one waited for the lock is not seen (the
    statement's snapshot predates the wait): the batch's insert of that key then fails on the
    unique dedupe key and the batch is run again (conversation.Batcher), finding it.
    """
    pg = _pg(conn)
    keys = list(keys) or [""]  # an empty IN () is not SQL
    params = [keys, list(openids)] if pg else [*keys, *openids]
    locked = Locked({}, {}, {})
    _read_locked(
        await _select(conn, _lock_and_answered(pg, len(keys), len(openids), facts), params),
        facts,
        locked,
    )
    missing = [o for o in openids if o not in locked.convs]
    if missing:  # a user's first message: once per user, through the ORM's defaults
        await Conversation.bulk_create(
            [Conversation(openid=o) for o in missing], ignore_conflicts=True, using_db=conn
        )
        params = [keys, missing] if pg else [*keys, *missing]
        sql = _lock_and_answered(pg, len(keys), len(missing), facts)
        _read_locked(await _select(conn, sql, params), facts, locked)
    return locked


async def _select(conn: BaseDBAsyncClient, sql: str, params: list) -> Sequence:
    """A read's rows; on sqlite inside our transaction right on this thread (a read in WAL mode
    never waits: bot/sqlite_client.py), elsewhere through the client."""
    fetch_rows = getattr(conn, "fetch_rows", None)
    if fetch_rows is not None:
        return await fetch_rows(sql, params)
    return (await conn.execute_query(sql, params))[1]


def _read_locked(
    rows, facts: tuple[tuple[str, str], ...], into: Locked, xmins: dict[str, str] | None = None
) -> None:
    """Rows of the lock statement into `into`: the conversations without the extra columns,
    the `__answered` object (the same on every row: one uncorrelated subquery), the facts;
    and into `xmins` the rows' xmin when read without the lock (read_conversations)."""
    for raw in rows:
        row = dict(raw)
        if xmins is not None:
            xmins[row["openid"]] = row.pop(XMIN)
        value = row.pop("__answered")
        if value and not into.answered:
            into.answered = json.loads(value) if isinstance(value, str) else dict(value)
        user = {name: row.pop(FACT_PREFIX + name) for name, _ in facts}
        if row.pop(SEEN_VERSION, row["version"]) != row["version"]:
            user = {}  # waited for the lock: the facts may be older than the row (PostgreSQL)
        conv = hydrate(Conversation, row)
        into.convs[conv.openid] = conv
        into.facts[conv.openid] = user


_INBOUND_FIELDS = ("dedupe_key", "openid", "msg_type", "reply", "received_at")


@cache
def _insert_inbound(pg: bool) -> str:
    cols = ", ".join(f'"{_column(InboundMessage, f)}"' for f in _INBOUND_FIELDS)
    return (
        f'INSERT INTO "{InboundMessage._meta.db_table}" ({cols}) '
        f"VALUES ({_marks(pg, len(_INBOUND_FIELDS))})"
    )


@cache
def _update_conversation(pg: bool, names: tuple[str, ...]) -> str:
    """One statement for every conversation of a batch, whatever each one changed: a field
    not changed keeps the row's value (a step may have written it directly meanwhile)."""
    marks = (f"${i}" for i in range(1, 2 * len(names) + 4)) if pg else iter(lambda: "?", None)
    sets = []
    for name in names:
        col = _column(Conversation, name)
        sets.append(f'"{col}" = CASE WHEN {next(marks)} THEN {next(marks)} ELSE "{col}" END')
    sets += [f'"version" = {next(marks)}', f'"updated_at" = {next(marks)}']
    return (
        f'UPDATE "{Conversation._meta.db_table}" SET {", ".join(sets)} '
        f'WHERE "openid" = {next(marks)}'
    )


def _conversation_rows(
    names: tuple[str, ...], changes: Iterable[tuple[Conversation, set[str]]], now: datetime
) -> list[list]:
    """The parameters of _update_conversation, one row per conversation."""
    fields_map = Conversation._meta.fields_map
    values = []
    for conv, changed in changes:
        row: list = []
        for name in names:
            hit = name in changed
            row += (hit, fields_map[name].to_db_value(getattr(conv, name), conv) if hit else None)
        conv.updated_at = now
        values.append([*row, conv.version, now, conv.openid])
    return values


# PostgreSQL array types of the columns a batch writes, by ORM field class.
_PG_ARRAY_TYPES: tuple[tuple[type, str], ...] = (
    (fields.BooleanField, "bool"),
    (fields.JSONField, "jsonb"),
    (fields.DatetimeField, "timestamptz"),
    (fields.IntField, "int4"),
    (fields.CharField, "text"),
    (fields.TextField, "text"),
)


def _pg_type(model: type[Model], name: str) -> str:
    field = model._meta.fields_map[name]
    return next(t for cls, t in _PG_ARRAY_TYPES if isinstance(field, cls))


@cache
def _write_batch_pg(names: tuple[str, ...], checked: bool = False) -> str:
    """PostgreSQL: the batch's inbound rows and its conversations' changes in one statement
    (a data-modifying WITH), each column a single array parameter: one round trip.

    `checked` (write_checked): one more array, the xmin each row had when read; the rows are
    locked, and the statement writes nothing unless every row still has it, and answers
    whether it wrote."""
    inbound, table = InboundMessage._meta.db_table, Conversation._meta.db_table
    cols = ", ".join(f'"{_column(InboundMessage, f)}"' for f in _INBOUND_FIELDS)
    sets, arrays, aliases = [], [], []
    n = 6  # $1-$4: inbound columns, $5: now
    for i, name in enumerate(names):
        col = _column(Conversation, name)
        sets.append(f'"{col}" = CASE WHEN v.h{i} THEN v.v{i} ELSE c."{col}" END')
        arrays += [f"${n}::bool[]", f"${n + 1}::{_pg_type(Conversation, name)}[]"]
        aliases += [f"h{i}", f"v{i}"]
        n += 2
    arrays += [f"${n}::int4[]", f"${n + 1}::text[]"]
    aliases += ["version", "openid"]
    rows = f"unnest({', '.join(arrays)}) AS v({', '.join(aliases)})"
    insert = (
        f'INSERT INTO "{inbound}" ({cols}) SELECT k, o, t, r, $5 '
        f"FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS i(k, o, t, r)"
    )
    update = (
        f'UPDATE "{table}" AS c SET {", ".join(sets)}, "version" = v.version, "updated_at" = $5'
    )
    # `= ANY(openids)` beside each join on the openid: a plan made for any batch (a prepared
    # statement's generic plan, made once) finds the rows by the primary key. Joined with the
    # unnest alone, whose length it cannot know, it read the whole table for every batch.
    mine = f'c."openid" = ANY(${n + 1}::text[])'
    if not checked:
        return f'WITH ins AS ({insert}) {update} FROM {rows} WHERE c."openid" = v.openid AND {mine}'
    # `cur` locks the rows still as read, in the lock statement's order (by openid, so a batch
    # and another worker's never deadlock): a row written since (its xmin changed) is left
    # out, also when its writer commits while we wait for its lock (the condition is checked
    # again on the newest version). Every CTE runs, read by the final SELECT or not.
    return (
        f"WITH v AS (SELECT * FROM {rows}), "
        f"s AS (SELECT * FROM unnest(${n + 1}::text[], ${n + 2}::text[]) AS s(openid, xmin)), "
        f'cur AS (SELECT c."openid" FROM "{table}" c JOIN s ON c."openid" = s.openid '
        f'WHERE {mine} AND c.xmin::text = s.xmin ORDER BY c."openid" FOR UPDATE OF c), '
        f"ok AS (SELECT (SELECT count(*) FROM cur) = (SELECT count(*) FROM s) AS ok), "
        f"ins AS ({insert} WHERE (SELECT ok FROM ok)), "
        f'upd AS ({update} FROM v WHERE c."openid" = v.openid AND {mine} '
        f"AND (SELECT ok FROM ok)) SELECT ok FROM ok"
    )


def _pg_columns(
    names: tuple[str, ...], changes: Iterable[tuple[Conversation, set[str]]], now: datetime
) -> list[list]:
    """The conversation arrays of _write_batch_pg: changed flag and value per name, then the
    versions and the openids."""
    fields_map = Conversation._meta.fields_map
    columns: list[list] = [[] for _ in range(2 * len(names) + 2)]
    for conv, changed in changes:
        for i, name in enumerate(names):
            hit = name in changed
            columns[2 * i].append(hit)
            columns[2 * i + 1].append(
                fields_map[name].to_db_value(getattr(conv, name), conv) if hit else None
            )
        columns[-2].append(conv.version)
        columns[-1].append(conv.openid)
        conv.updated_at = now
    return columns


def _inbound_columns(inbound: Sequence[tuple[str, str, str, str | None]]) -> list[list]:
    return [list(c) for c in zip(*inbound, strict=True)] if inbound else [[], [], [], []]


async def write_checked(
    conn: BaseDBAsyncClient,
    inbound: Sequence[tuple[str, str, str, str | None]],
    names: tuple[str, ...],
    changes: Iterable[tuple[Conversation, set[str]]],
    xmins: dict[str, str],
    now: datetime,
) -> bool:
    """PostgreSQL, outside any transaction: write_batch's writes in one statement, made only
    if none of the rows read by read_conversations was written since (by anyone: a staff
    member's reply, another worker). False, having written nothing, when one was."""
    columns = _pg_columns(names, changes, now)
    params = [*_inbound_columns(inbound), now, *columns, [xmins[o] for o in columns[-1]]]
    rows = (await conn.execute_query(_write_batch_pg(names, True), params))[1]
    return bool(rows and rows[0]["ok"])


async def write_batch(
    conn: BaseDBAsyncClient,
    inbound: Sequence[tuple[str, str, str, str | None]],
    names: tuple[str, ...],
    changes: Iterable[tuple[Conversation, set[str]]],
    now: datetime,
) -> None:
    """The batch's last statements: record its new messages (dedupe_key, openid, msg_type,
    reply) and save, for each conversation, those of `names` it changed, its version and `now`
    as its updated_at. One statement on PostgreSQL; on sqlite two, which our client sends with
    the COMMIT in one hand-off (bot/sqlite_client.py), so the transaction's end has nothing
    left to do.

    A plain INSERT: a key answered meanwhile by another worker fails the batch (see
    lock_conversations)."""
    if not _pg(conn):
        rows = [[*row, now] for row in inbound]
        updates = _conversation_rows(names, changes, now)
        run_and_commit = getattr(conn, "run_and_commit", None)
        if run_and_commit is None:  # not our client's transaction: statement by statement
            if rows:
                await conn.execute_many(_insert_inbound(False), rows)
            if updates:
                await conn.execute_many(_update_conversation(False, names), updates)
            return

        def write(raw: sqlite3.Connection) -> None:
            if rows:
                raw.executemany(_insert_inbound(False), rows)
            if updates:
                raw.executemany(_update_conversation(False, names), updates)

        await run_and_commit(write)
        return
    columns = _pg_columns(names, changes, now)
    if not inbound and not columns[-1]:
        return
    await conn.execute_query(_write_batch_pg(names), [*_inbound_columns(inbound), now, *columns])
