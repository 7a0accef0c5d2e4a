"""The sweep of stored files that no record refers to.

A file is stored before the transaction that records it commits (an upload, a decision letter):
when that transaction rolls back — the database went away, a conflict — the file stays behind,
unreferenced, holding personal data that no retention rule will ever find. Once a day every
stored key older than a day (`GRACE`: an upload in flight is never touched) that no material or
document row names is deleted. Only counts are logged, never keys.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from aiohttp import web

from bot.scheduler import daily_at, job
from bot.storage import Storage, storage_key
from models.application import Material
from models.document import Document

log = logging.getLogger(__name__)

GRACE = timedelta(days=1)
BATCH = 500


async def sweep(storage: Storage, now: datetime, *, dry_run: bool = False) -> tuple[int, int]:
    """Delete unreferenced files older than GRACE; returns (files seen, files deleted)."""
    seen = deleted = 0
    batch: list[str] = []

    async def settle() -> int:
        referenced = set(
            await Material.filter(storage_key__in=batch).values_list("storage_key", flat=True)
        ) | set(await Document.filter(storage_key__in=batch).values_list("storage_key", flat=True))
        gone = [k for k in batch if k not in referenced]
        if not dry_run:
            for key in gone:
                await storage.delete(key)
        batch.clear()
        return len(gone)

    async for key, written in storage.listing():
        seen += 1
        if now - written < GRACE:
            continue
        batch.append(key)
        if len(batch) >= BATCH:
            deleted += await settle()
    if batch:
        deleted += await settle()
    return seen, deleted


@job("sweep_storage", daily_at("04:30"))
async def sweep_storage(app: web.Application, now: datetime) -> None:
    seen, deleted = await sweep(app[storage_key], now)
    if deleted:
        log.warning("storage sweep: %d of %d stored files had no record; deleted", deleted, seen)
    else:
        log.info("storage sweep: %d stored files, all referenced", seen)
