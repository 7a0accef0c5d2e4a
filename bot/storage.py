"""Uploaded materials (photos and scans of documents) and generated documents behind one
storage interface, with two backends.

Files are personal data, so they never go into the database or the logs; they are stored
under an opaque key (`<prefix>/<random>.<ext>`) that their row keeps, and downloads go through
the service, which checks who asks (no public bucket, no long-lived links).

- `LocalStorage`: a directory under BOT_DATA_DIR (the default; one machine). Writes run in a
  thread so a slow disk never blocks the event loop.
- `S3Storage`: S3-compatible object storage (`BOT_STORAGE_URL=s3://bucket/prefix`), which Aliyun
  OSS, Tencent COS, Huawei OBS and MinIO all speak, so several machines share one set of files.

The application opens one storage at start (`storage_ctx`) and keeps it under `storage_key`;
code with a request or the app uses `app[storage_key]`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from bot.settings import Settings, reveal

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
    async def put(self, prefix: str, ext: str, data: bytes) -> str:
        """Store `data` under a new key `<prefix>/<random>.<ext>`; return the key."""

    async def get(self, key: str) -> bytes:
        """The bytes under `key`; FileNotFoundError when there are none."""

    async def delete(self, key: str) -> None:
        """Remove `key`; nothing happens when it is absent."""

    def listing(self) -> AsyncIterator[tuple[str, datetime]]:
        """Every stored key with the time it was written (for the sweep of unreferenced files)."""

    async def close(self) -> None:
        """Release connections (called once, when the application stops)."""


def new_key(prefix: str, ext: str) -> str:
    """An unguessable key under `prefix` (an application id, a document kind)."""
    return f"{prefix}/{secrets.token_urlsafe(16)}.{ext}"


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
        key = new_key(prefix, ext)
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

    async def listing(self) -> AsyncIterator[tuple[str, datetime]]:
        found = await asyncio.to_thread(self._walk)
        for key, mtime in found:
            yield key, mtime

    def _walk(self) -> list[tuple[str, datetime]]:
        if not self.root.is_dir():
            return []
        return [
            (p.relative_to(self.root).as_posix(), datetime.fromtimestamp(p.stat().st_mtime, UTC))
            for p in self.root.rglob("*")
            if p.is_file()
        ]

    async def close(self) -> None:
        return None


def parse_storage_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix) of `s3://bucket/prefix`; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("BOT_STORAGE_URL must look like s3://bucket/prefix")
    prefix = parts.path.strip("/")
    return parts.netloc, (prefix + "/" if prefix else "")


class S3Storage:
    """Objects in one bucket under one key prefix, through aiobotocore (botocore's asyncio port,
    kept by aio-libs). One client (its connection pool) per process, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        assert settings.storage_url
        self.bucket, self.prefix = parse_storage_url(settings.storage_url)
        self._settings = settings
        self._client: Any = None
        self._exit: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:  # aiobotocore's clients are generated at run time
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._open()
        return self._client

    async def _open(self) -> Any:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        s = self._settings
        config = AioConfig(
            # Path style for MinIO and servers addressed by IP; virtual hosts for Aliyun OSS,
            # which accepts nothing else; botocore's "auto" picks by the endpoint.
            s3={"addressing_style": s.s3_addressing_style},
            signature_version="s3v4",
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        creator = get_session().create_client(
            "s3",
            endpoint_url=s.s3_endpoint_url,
            # Any region signs for S3-compatible stores that ignore it; AWS needs the real one.
            region_name=s.s3_region or "us-east-1",
            aws_access_key_id=reveal(s.s3_access_key_id),
            aws_secret_access_key=reveal(s.s3_secret_access_key),
            config=config,
        )
        client = await creator.__aenter__()
        self._exit = creator.__aexit__
        return client

    async def put(self, prefix: str, ext: str, data: bytes) -> str:
        key = new_key(prefix, ext)
        s3 = await self._s3()
        await s3.put_object(
            Bucket=self.bucket,
            Key=self.prefix + key,
            Body=data,
            ContentType="application/octet-stream",
        )
        return key

    async def get(self, key: str) -> bytes:
        s3 = await self._s3()
        try:
            obj = await s3.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except s3.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        async with obj["Body"] as body:
            return await body.read()

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    async def listing(self) -> AsyncIterator[tuple[str, datetime]]:
        s3 = await self._s3()
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        async for page in pages:
            for obj in page.get("Contents", ()):
                yield obj["Key"].removeprefix(self.prefix), obj["LastModified"]

    async def close(self) -> None:
        if self._exit is not None:
            exit_, self._exit, self._client = self._exit, None, None
            await exit_(None, None, None)


def storage_for(settings: Settings) -> Storage:
    """The configured storage: S3 when BOT_STORAGE_URL is set, else `<BOT_DATA_DIR>/materials`.

    The caller closes it; the application keeps one for its lifetime (`storage_ctx`)."""
    if settings.storage_url:
        return S3Storage(settings)
    return LocalStorage(Path(settings.data_dir) / "materials")


storage_key = web.AppKey("storage", Storage)


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    """One storage for the application's lifetime; its connections close after the requests."""
    from bot.keys import settings_key

    storage = storage_for(app[settings_key])
    app[storage_key] = storage
    yield
    await storage.close()


class NotStored(Exception):
    """WeChat gave us something that is not a photo we keep; trying again will not help."""

    retryable = False  # the outbox fails the row (visible to the centre) instead of retrying


async def store_chat_photo(app, material_id: int, media_id: str) -> None:
    """Fetch a photo an agent sent in chat from WeChat (which keeps it 3 days) into storage,
    and record it on its material row, as an upload would be. Run by the outbox, so it is
    retried with backoff and a failure shows in the centre's outbox view."""
    from bot.keys import wechat_api_key
    from models.application import Material

    material = await Material.get_or_none(id=material_id)
    if material is None or material.storage_key:
        return  # the application was deleted, or an earlier try stored it
    data, _ = await app[wechat_api_key].get_media(media_id, max_bytes=MAX_UPLOAD)
    sniffed = sniff(data[:16])
    if sniffed is None:
        raise NotStored("the media is not a JPEG, PNG or PDF")
    content_type, ext = sniffed
    storage = app[storage_key]
    key = await storage.put(str(material.application_id), ext, data)
    updated = await Material.filter(id=material_id, storage_key=None).update(
        storage_key=key,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    if not updated:  # stored by another worker meanwhile (a lease ran out), or deleted
        await storage.delete(key)  # a photo of an ID document is not left behind unreferenced
        log.info("material %s was stored or deleted meanwhile; dropped this copy", material_id)
