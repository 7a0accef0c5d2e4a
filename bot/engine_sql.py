"""The conversation engine's statements, written out once per dialect instead of built per batch.

Every batch of inbound messages locks its users' conversation rows, looks up which messages were
answered already, records the new ones and saves the changed state. Building those statements
through the ORM's query builder, and hydrating rows through its generic path, was a third of the
webhook's time (bench/webhook.py). Here they are plain SQL, cached per dialect and size; the
values still go through each field's `to_db_value`, and rows through `Model._init_from_db`, so
what is written and read is exactly what the ORM would write and read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from tortoise import fields

from models.conversation import Conversation
from models.inbound import InboundMessage

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient
    from tortoise.models import Model


def _pg(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def _marks(pg: bool, count: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count)) if pg else ", ".join(
        "?" * count)


def _column(model: type[Model], field: str) -> str:
    return model._meta.fields_db_projection[field]


@cache
def _datetime_columns(model: type[Model]) -> tuple[str, ...]:
    return tuple(_column(model, name) for name, f in model._meta.fields_map.items()
                 if isinstance(f, fields.DatetimeField))


def hydrate(model: type[Model], row) -> Model:
    """A model instance from a raw row, as the ORM builds it.

    sqlite returns datetimes as the text the ORM stored (`isoformat(" ")`); parsing it with
    the C `fromisoformat` first spares the ORM's pure-Python ISO 8601 parser.
    """
    values = dict(row)
    for col in _datetime_columns(model):
        value = values.get(col)
        if isinstance(value, str):
            try:
                values[col] = datetime.fromisoformat(value)
            except ValueError:
                pass  # left to the ORM's parser, which accepts more spellings
    return model._init_from_db(**values)


@cache
def _select_conversations(pg: bool, count: int) -> str:
    # ORDER BY: rows are locked in one order everywhere, so two batches never deadlock
    return (f'SELECT * FROM "{Conversation._meta.db_table}" WHERE "openid" IN '
            f'({_marks(pg, count)}) ORDER BY "openid"' + (" FOR UPDATE" if pg else ""))


async def lock_conversations(conn: BaseDBAsyncClient, openids: Sequence[str]
                             ) -> dict[str, Conversation]:
    """Each user's row, locked (PostgreSQL; sqlite has one writer), created when missing."""
    pg = _pg(conn)
    _, rows = await conn.execute_query(_select_conversations(pg, len(openids)), list(openids))
    convs = {c.openid: c for c in (hydrate(Conversation, r) for r in rows)}
    missing = [o for o in openids if o not in convs]
    if missing:  # a user's first message: once per user, through the ORM's defaults
        await Conversation.bulk_create([Conversation(openid=o) for o in missing],
                                       ignore_conflicts=True, using_db=conn)
        _, rows = await conn.execute_query(_select_conversations(pg, len(missing)), missing)
        convs.update((c.openid, c) for c in (hydrate(Conversation, r) for r in rows))
    return convs


@cache
def _select_answered(pg: bool, count: int) -> str:
    return (f'SELECT "dedupe_key", "reply" FROM "{InboundMessage._meta.db_table}" '
            f'WHERE "dedupe_key" IN ({_marks(pg, count)})')


async def answered(conn: BaseDBAsyncClient, keys: Sequence[str]) -> dict[str, str | None]:
    """The replies given to those of `keys` handled before (WeChat's retries)."""
    _, rows = await conn.execute_query(_select_answered(_pg(conn), len(keys)), list(keys))
    return {r["dedupe_key"]: r["reply"] for r in rows}


_INBOUND_FIELDS = ("dedupe_key", "openid", "msg_type", "reply", "received_at")


@cache
def _insert_inbound(pg: bool) -> str:
    cols = ", ".join(f'"{_column(InboundMessage, f)}"' for f in _INBOUND_FIELDS)
    return (f'INSERT INTO "{InboundMessage._meta.db_table}" ({cols}) '
            f"VALUES ({_marks(pg, len(_INBOUND_FIELDS))})")


async def record_inbound(conn: BaseDBAsyncClient, rows: Iterable[tuple[str, str, str, str | None]],
                         now: datetime) -> None:
    """Insert (dedupe_key, openid, msg_type, reply) rows received at `now`.

    A plain INSERT: a key answered meanwhile by another worker fails the batch, which is then
    redone one message at a time and finds that answer.
    """
    values = [[*row, now] for row in rows]
    if values:
        await conn.execute_many(_insert_inbound(_pg(conn)), values)


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
    return (f'UPDATE "{Conversation._meta.db_table}" SET {", ".join(sets)} '
            f'WHERE "openid" = {next(marks)}')


async def save_conversations(conn: BaseDBAsyncClient, names: tuple[str, ...],
                             changes: Iterable[tuple[Conversation, set[str]]],
                             now: datetime) -> None:
    """Write, for each conversation, those of `names` it changed, its version, and `now` as
    its updated_at: one executemany for the whole batch."""
    fields_map = Conversation._meta.fields_map
    values = []
    for conv, changed in changes:
        row: list = []
        for name in names:
            hit = name in changed
            row += (hit, fields_map[name].to_db_value(getattr(conv, name), conv) if hit else None)
        conv.updated_at = now
        values.append([*row, conv.version, now, conv.openid])
    if values:
        await conn.execute_many(_update_conversation(_pg(conn), names), values)
