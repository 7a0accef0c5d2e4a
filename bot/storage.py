"""Uploaded materials (photos and scans of documents) behind a small storage interface.

Files are personal data, so they never go into the database or the logs; they are stored
under an opaque key (`<application id>/<random>.<ext>`) that the material row keeps. The default
is a local directory under BOT_DATA_DIR; an object store can implement the same two methods.
Writes run in a thread so a slow disk never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from pathlib import Path
from typing import Protocol

from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_UPLOAD = 10 * 1024 * 1024  # 10 MB: a phone photo of a document is 2-5 MB
# Magic bytes of the formats we accept, sniffed from the content (never trust the file name
# or the declared Content-Type).
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a JPEG, PNG or PDF, judged by its first bytes; else None."""
    for magic, content_type, ext in SIGNATURES:
        if head.startswith(magic):
            return content_type, ext
    return None


class Storage(Protocol):
    async def put(self, prefix: str, ext: str, data: bytes) -> str: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files under one directory, created with owner-only permissions."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key escapes the storage directory")
        return path

    async def put(self, prefix: str, ext: str, data: bytes) -> str:
        key = f"{prefix}/{secrets.token_urlsafe(16)}.{ext}"
        await asyncio.to_thread(self._write, self._path(key), data)
        return key

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


def storage_for(settings: Settings) -> Storage:
    """The configured storage: `<BOT_DATA_DIR>/materials`."""
    return LocalStorage(Path(settings.data_dir) / "materials")


class NotStored(Exception):
    """WeChat gave us something that is not a photo we keep; trying again will not help."""

    retryable = False  # the outbox fails the row (visible to the centre) instead of retrying


async def store_chat_photo(app, material_id: int, media_id: str) -> None:
    """Fetch a photo an agent sent in chat from WeChat (which keeps it 3 days) into storage,
    and record it on its material row, as an upload would be. Run by the outbox, so it is
    retried with backoff and a failure shows in the centre's outbox view."""
    from bot.keys import settings_key, wechat_api_key
    from models.application import Material

    material = await Material.get_or_none(id=material_id)
    if material is None or material.storage_key:
        return  # the application was deleted, or an earlier try stored it
    data, _ = await app[wechat_api_key].get_media(media_id, max_bytes=MAX_UPLOAD)
    sniffed = sniff(data[:16])
    if sniffed is None:
        raise NotStored("the media is not a JPEG, PNG or PDF")
    content_type, ext = sniffed
    storage = storage_for(app[settings_key])
    key = await storage.put(str(material.application_id), ext, data)
    updated = await Material.filter(id=material_id, storage_key=None).update(
        storage_key=key, content_type=content_type, size=len(data),
        sha256=hashlib.sha256(data).hexdigest())
    if not updated:  # stored by another worker meanwhile (a lease ran out), or deleted
        await storage.delete(key)  # a photo of an ID document is not left behind unreferenced
        log.info("material %s was stored or deleted meanwhile; dropped this copy", material_id)
