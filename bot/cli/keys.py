"""rotate-key: re-encrypt stored personal data under the current BOT_SECRET_KEY.

Run it after moving the old key to BOT_OLD_SECRET_KEYS (README "Rotating BOT_SECRET_KEY"). Every
EncryptedTextField is rewritten under the new key, and blind indexes (keyed hashes used for
lookups) are recomputed: a model lists them as `BLIND_INDEXES = {index_field: fn(row) -> str}`.
Safe to re-run; rows are processed in primary-key order, in batches.
"""

from __future__ import annotations

import argparse
import sys

from tortoise import Tortoise

from bot.cli import run_with_db
from bot.settings import Settings
from models.fields import EncryptedTextField, blind_index

BATCH = 500  # rows per round trip; small enough to keep memory flat on large tables


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rotate-key", help="re-encrypt personal data under the current secret key")
    p.set_defaults(func=rotate)


def rotate(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        if not settings.old_secret_keys:
            print(
                "note: BOT_OLD_SECRET_KEYS is empty; rows under an older key will not decrypt",
                file=sys.stderr,
            )
        total = 0
        for model in Tortoise.apps.get_models_iterable():
            encrypted = [
                n for n, f in model._meta.fields_map.items() if isinstance(f, EncryptedTextField)
            ]
            if not encrypted:
                continue
            indexes = getattr(model, "BLIND_INDEXES", {})
            pk = model._meta.pk_attr
            count, last = await model.all().count(), None
            done = 0
            while True:
                q = model.all().order_by(pk).limit(BATCH)
                if last is not None:
                    q = q.filter(**{f"{pk}__gt": last})
                rows = await q
                if not rows:
                    break
                for row in rows:
                    for field, fn in indexes.items():
                        value = fn(row)
                        setattr(row, field, blind_index(value) if value else None)
                    await row.save(update_fields=[*encrypted, *indexes])
                done += len(rows)
                last = getattr(rows[-1], pk)
                print(f"\r{model.__name__}: {done}/{count}", end="", file=sys.stderr, flush=True)
            if count:
                print(file=sys.stderr)
            total += done
        print(f"re-encrypted {total} rows")
        return total

    run_with_db(go)
    return 0
