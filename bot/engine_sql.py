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
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tortoise import fields

from models.conversation import Conversation
from models.inbound import InboundMessage

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient
    from tortoise.models import Model

M = TypeVar("M", bound="Model")


class Statements(Protocol):
    """What the statements outside a transaction need: a client, or the chat batcher's kept
    connections (bot.asyncpg_client.KeptConnections)."""

    async def execute_query(
        self, query: str, values: list | None = None
    ) -> tuple[int, Sequence[Any]]: ...


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


def _fact_exprs(facts: tuple[tuple[str, str], ...]) -> list[str]:
    """The registered facts about the conversation `c`'s user, each `(subquery) AS column`."""
    user = 'c."openid"'
    return [f'({sql.format(openid=user)}) AS "{FACT_PREFIX}{name}"' for name, sql in facts]


def _fact_columns(facts: tuple[tuple[str, str], ...]) -> str:
    """The registered facts as extra columns of a select on the conversation `c`."""
    return "".join(", " + expr for expr in _fact_exprs(facts))


@cache
def _read_unlocked(facts: tuple[tuple[str, str], ...]) -> str:
    """PostgreSQL's first statement without a transaction (read_conversations): the lock
    statement's rows, locking nothing, each with its `xmin` — the row version's creating
    transaction, which every write to the row changes, whoever makes it — and its facts
    also as one text (`ROW(...)::text`, `__facts`), which write_checked compares again."""
    table, inbound = Conversation._meta.db_table, InboundMessage._meta.db_table
    answered = (
        f'(SELECT json_object_agg("dedupe_key", "reply") FROM "{inbound}" '
        f'WHERE "dedupe_key" = ANY($1::text[])) AS "__answered"'
    )
    lateral = ""
    if facts:
        answered += f', f.*, ROW(f.*)::text AS "{FACTS_KEY}"'
        lateral = f" CROSS JOIN LATERAL ({_facts_of(facts)}) f"
    return (
        f'SELECT c.*, c.xmin::text AS "{XMIN}", {answered} FROM "{table}" c{lateral} '
        f'WHERE c."openid" = ANY($2::text[])'
    )


def _facts_of(facts: tuple[tuple[str, str], ...]) -> str:
    """A one-row select of the facts about the conversation `c`'s user, one column each."""
    return "SELECT " + ", ".join(_fact_exprs(facts))


FACTS_KEY = "__facts"


@dataclass(frozen=True, slots=True)
class RowState:
    """A conversation row as PostgreSQL last gave it to this worker, outside any transaction
    (read_conversations, write_checked): enough to route a batch without reading it again, and
    to tell at the write whether anything changed since."""

    raw: dict[str, object]  # the columns, for hydrate (never changed: each batch copies it)
    xmin: str  # the row version's creating transaction
    facts: dict[str, object]  # the registered facts about its user (never changed either)
    facts_key: str | None  # the facts as PostgreSQL's text of their row; None: no facts


async def read_conversations(
    conn: Statements,
    openids: Sequence[str],
    keys: Sequence[str],
    facts: tuple[tuple[str, str], ...] = (),
) -> tuple[dict[str, RowState], dict[str, str | None]] | None:
    """PostgreSQL, outside any transaction: each user's row as lock_conversations reads it,
    without the lock, as a RowState for write_checked; and the replies already given to any of
    `keys`. None when a user has no row yet (a first message makes it under the lock)."""
    rows = (await conn.execute_query(_read_unlocked(facts), [list(keys) or [""], list(openids)]))[1]
    states: dict[str, RowState] = {}
    answered: dict[str, str | None] = {}
    for raw in rows:
        row = dict(raw)
        value = row.pop("__answered")
        if value and not answered:
            answered = json.loads(value) if isinstance(value, str) else dict(value)
        states[str(row["openid"])] = _row_state(row, facts)
    return (states, answered) if len(states) == len(openids) else None


def _row_state(row: dict[str, object], facts: tuple[tuple[str, str], ...]) -> RowState:
    """A RowState from a row with the extra columns of _read_unlocked (taken out of `row`)."""
    xmin, key = str(row.pop(XMIN)), row.pop(FACTS_KEY, None)
    user = {name: row.pop(FACT_PREFIX + name) for name, _ in facts}
    return RowState(row, xmin, user, None if key is None else str(key))


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


def _read_locked(rows, facts: tuple[tuple[str, str], ...], into: Locked) -> None:
    """Rows of the lock statement into `into`: the conversations without the extra columns,
    the `__answered` object (the same on every row: one uncorrelated subquery), the facts."""
    for raw in rows:
        row = dict(raw)
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
def _write_batch_pg(
    names: tuple[str, ...], checked: bool = False, facts: tuple[tuple[str, str], ...] = ()
) -> str:
    """PostgreSQL: the batch's inbound rows and its conversations' changes in one statement
    (a data-modifying WITH), each column a single array parameter: one round trip.

    `checked` (write_checked): two more arrays, the xmin each row had when read and its facts'
    text (RowState); the rows are locked, and the statement writes nothing unless every row
    still has that xmin and those facts. It answers whether it wrote (`__ok`, on every row) and
    the rows as written, each with its new xmin."""
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
    same_facts, lateral, no_facts, fresh_facts = "", "", "", ""
    if facts:
        same_facts = (
            f" AND (SELECT ROW(f.*)::text FROM ({_facts_of(facts)}) f) IS NOT DISTINCT FROM s.facts"
        )
        lateral = f" CROSS JOIN LATERAL ({_facts_of(facts)}) f"
        no_facts = "".join(f', NULL AS "{FACT_PREFIX}{name}"' for name, _ in facts)
        no_facts += f', NULL AS "{FACTS_KEY}"'
        fresh_facts = f', f.*, ROW(f.*)::text AS "{FACTS_KEY}"'
    # `cur` locks the rows still as read, in the lock statement's order (by openid, so a batch
    # and another worker's never deadlock): a row written since (its xmin changed) or whose
    # user's facts changed (an agent bound or let go in the console) is left out, also when
    # its writer commits while we wait for its lock (the condition is checked again on the
    # newest version). Every CTE runs, read by the final SELECT or not. The answer: the rows
    # as written; or, when it wrote nothing, the rows as they are now, with their facts (what
    # read_conversations would give), so the batch can be routed again without another read.
    return (
        f"WITH v AS (SELECT * FROM {rows}), "
        f"s AS (SELECT * FROM unnest(${n + 1}::text[], ${n + 2}::text[], ${n + 3}::text[]) "
        f"AS s(openid, xmin, facts)), "
        f'cur AS (SELECT c."openid" FROM "{table}" c JOIN s ON c."openid" = s.openid '
        f'WHERE {mine} AND c.xmin::text = s.xmin{same_facts} ORDER BY c."openid" FOR UPDATE OF c), '
        f"ok AS (SELECT (SELECT count(*) FROM cur) = (SELECT count(*) FROM s) AS ok), "
        f"ins AS ({insert} WHERE (SELECT ok FROM ok)), "
        f'upd AS ({update} FROM v WHERE c."openid" = v.openid AND {mine} '
        f'AND (SELECT ok FROM ok) RETURNING c.*, c.xmin::text AS "{XMIN}") '
        f'SELECT true AS "__ok", u.*{no_facts} FROM upd u UNION ALL '
        f'SELECT false, c.*, c.xmin::text{fresh_facts} FROM "{table}" c{lateral} '
        f"WHERE {mine} AND NOT (SELECT ok FROM ok)"
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
    conn: Statements,
    inbound: Sequence[tuple[str, str, str, str | None]],
    names: tuple[str, ...],
    changes: Iterable[tuple[Conversation, set[str]]],
    read: dict[str, RowState],
    now: datetime,
    facts: tuple[tuple[str, str], ...] = (),
) -> tuple[bool, dict[str, RowState]]:
    """PostgreSQL, outside any transaction: write_batch's writes in one statement, made only
    if none of the rows `read` (read_conversations, or this worker's last write) was written
    since, by anyone (a staff member's reply, another worker), and the facts about their users
    are unchanged. (True, the rows as written) by openid; or (False, the rows changed as they
    are now — as far as the statement's snapshot shows them), having written nothing."""
    columns = _pg_columns(names, changes, now)
    states = [read[o] for o in columns[-1]]
    if not inbound and not states:  # every message a retry answered before: nothing to write
        return True, {}
    params = [
        *_inbound_columns(inbound),
        now,
        *columns,
        [s.xmin for s in states],
        [s.facts_key for s in states],
    ]
    rows = (await conn.execute_query(_write_batch_pg(names, True, facts), params))[1]
    # no row: nothing to update (every message a retry), or every row to update is gone
    ok, out = not states, dict[str, RowState]()
    for raw in rows:
        row = dict(raw)
        ok, openid = bool(row.pop("__ok")), str(row["openid"])
        state, before = _row_state(row, facts), read[openid]
        if ok:  # written: the facts were checked to be those read (their columns are NULL)
            out[openid] = replace(state, facts=before.facts, facts_key=before.facts_key)
        elif (state.xmin, state.facts_key) != (before.xmin, before.facts_key):
            out[openid] = state
        # else: what the statement's snapshot still held, older than the version it waited
        # for: no use routing with it again
    return ok, out


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
