"""Uploaded materials (photos and scans of documents) behind a small storage interface.

Files are personal data, so they never go into the database or the logs; they are stored
under an opaque key (`<application id>/<random>.<ext>`) that the material row keeps. The default
is a local directory under BOT_DATA_DIR; an object store can implement the same two methods.
Writes run in a thread so a slow disk never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Protocol

from bot.settings import Settings

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


def storage_for(settings: Settings) -> Storage:
    """The configured storage: `<BOT_DATA_DIR>/materials`."""
    return LocalStorage(Path(settings.data_dir) / "materials")
