"""Keys the service generates for itself and every worker must share, kept in the database.

Unlike BOT_SECRET_KEY these never rotate: what they derive (complaint tickets) is stored and
must stay unique for ever. The first worker to need a key creates it; the others read it.
"""

from __future__ import annotations

import secrets

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

KEY_BYTES = 32


class StoredKey(Model):
    name = fields.CharField(max_length=32, primary_key=True)
    value = fields.CharField(max_length=2 * KEY_BYTES)  # hex

    class Meta:
        table = "stored_key"


async def stored_key(name: str, conn: BaseDBAsyncClient | None = None) -> bytes:
    """The key called `name`, created at first use (the first insert wins a race)."""
    row = await StoredKey.filter(name=name).using_db(conn).first()
    if row is None:
        await StoredKey.bulk_create(
            [StoredKey(name=name, value=secrets.token_hex(KEY_BYTES))],
            ignore_conflicts=True,
            using_db=conn,
        )
        row = await StoredKey.filter(name=name).using_db(conn).get()
    return bytes.fromhex(row.value)
