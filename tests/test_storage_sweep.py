"""Stored files that no record names (a transaction rolled back after the file was written) are
swept after a day; referenced files and fresh ones are kept. Local disk here; the S3 backend's
listing is tested in test_storage_s3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.storage import storage_key
from handlers.storage_sweep import sweep_storage
from models.application import Material
from tests.applications_support import agent_token, bearer
from tests.test_applications_materials import PNG, _owed, form


async def test_unreferenced_files_are_swept_after_a_day(app, fake_wechat, settings):
    storage = app.app[storage_key]
    token, _ = await agent_token(app, fake_wechat)
    app_id = await _owed(app, token)
    resp = await app.post(
        f"/api/v1/applications/{app_id}/materials",
        headers=bearer(token),
        data=form("hardship_statement", PNG, "x.png", "image/png"),
    )
    assert resp.status == 201, await resp.text()
    kept = (await Material.get(id=(await resp.json())["material"]["id"])).storage_key
    # what a rolled-back upload leaves: a file no row names
    stray = await storage.put(str(app_id), "png", PNG)

    await sweep_storage(app.app, datetime.now(UTC))  # both are fresh: nothing goes
    assert await storage.get(stray) == PNG

    await sweep_storage(app.app, datetime.now(UTC) + timedelta(days=2))
    assert await storage.get(kept) == PNG
    with pytest.raises(FileNotFoundError):
        await storage.get(stray)
