"""The storage interface's S3 backend, against moto's S3 server started by the tests."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.auth import create_center_key
from bot.settings import Settings
from bot.storage import LocalStorage, S3Storage, parse_storage_url, storage_for, storage_key
from tests.applications_support import REGION, agent_token, bearer
from tests.s3_server import list_keys, make_bucket, s3_server, s3_settings  # noqa: F401 (fixtures)
from tests.test_applications_materials import PDF, PNG, _owed, form


def test_storage_url_forms():
    assert parse_storage_url("s3://aid-materials/shaoxing") == ("aid-materials", "shaoxing/")
    assert parse_storage_url("s3://aid-materials/a/b/") == ("aid-materials", "a/b/")
    assert parse_storage_url("s3://aid-materials") == ("aid-materials", "")
    for bad in ("aid-materials/x", "http://h/b", "s3:///prefix", "s3://b/p?x=1"):
        with pytest.raises(ValueError):
            parse_storage_url(bad)
        with pytest.raises(ValidationError, match="s3://bucket/prefix"):
            Settings(_env_file=None, storage_url=bad)


def test_the_backend_follows_the_setting(tmp_path):
    assert isinstance(storage_for(Settings(_env_file=None, data_dir=tmp_path)), LocalStorage)
    s3 = storage_for(Settings(_env_file=None, storage_url="s3://b/p"))
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("b", "p/")


async def test_s3_put_get_delete(s3_server):
    bucket = await make_bucket(s3_server)
    settings = Settings(_env_file=None, **s3_settings(s3_server, bucket, "centre/materials"))
    storage = storage_for(settings)
    try:
        key = await storage.put("17", "pdf", PDF)
        assert key.startswith("17/") and key.endswith(".pdf")
        assert await list_keys(s3_server, bucket) == [f"centre/materials/{key}"]
        assert await storage.get(key) == PDF
        await storage.delete(key)
        await storage.delete(key)  # absent: nothing happens
        with pytest.raises(FileNotFoundError):
            await storage.get(key)
        assert await list_keys(s3_server, bucket) == []
    finally:
        await storage.close()


@pytest.fixture
async def s3_bucket(s3_server):
    return await make_bucket(s3_server)


@pytest.fixture
def settings(settings, s3_server, s3_bucket):
    return settings.model_copy(update=s3_settings(s3_server, s3_bucket))


async def test_upload_and_download_go_through_the_bucket(
    app, fake_wechat, s3_server, s3_bucket, settings
):
    assert isinstance(app.app[storage_key], S3Storage)
    token, _ = await agent_token(app, fake_wechat)
    app_id = await _owed(app, token)
    resp = await app.post(
        f"/api/v1/applications/{app_id}/materials",
        headers=bearer(token),
        data=form("hardship_statement", PNG, "x.png", "image/png"),
    )
    assert resp.status == 201, await resp.text()
    mid = (await resp.json())["material"]["id"]
    keys = await list_keys(s3_server, s3_bucket)
    assert len(keys) == 1 and keys[0].startswith(f"centre/{app_id}/")
    assert not (settings.data_dir / "materials").exists()  # nothing on this machine's disk
    url = f"/api/v1/center/applications/{app_id}/materials/{mid}"
    assert (await app.get(url)).status == 401  # downloads check who asks
    fetched = await app.get(url, headers={"X-Api-Key": await create_center_key(REGION)})
    assert fetched.status == 200 and await fetched.read() == PNG
    other = await app.get(url, headers={"X-Api-Key": await create_center_key("110101")})
    assert other.status == 404  # another region's file is as absent as none


async def test_a_file_missing_from_the_bucket_is_404_not_500(
    app, fake_wechat, s3_server, s3_bucket
):
    token, _ = await agent_token(app, fake_wechat)
    app_id = await _owed(app, token)
    resp = await app.post(
        f"/api/v1/applications/{app_id}/materials",
        headers=bearer(token),
        data=form("hardship_statement", PNG, "x.png", "image/png"),
    )
    mid = (await resp.json())["material"]["id"]
    storage = app.app[storage_key]
    from models.application import Material

    await storage.delete((await Material.get(id=mid)).storage_key)
    fetched = await app.get(
        f"/api/v1/center/applications/{app_id}/materials/{mid}",
        headers={"X-Api-Key": await create_center_key(REGION)},
    )
    assert fetched.status == 404
    assert (await fetched.json())["error"]["code"] == "not_found"


async def test_decision_letters_are_stored_in_the_bucket_too(
    app, fake_wechat, s3_server, s3_bucket, settings
):
    from handlers.document_render import text_of
    from tests.assignment_support import Centre, filed, new_filer

    c = await Centre.of(app)
    token, _ = await new_filer(app, fake_wechat)
    refused = await filed(app, token)
    await c.decide(refused, "refused", reason="申请人家庭收入高于当地经济困难标准")
    (letter,) = (await c.call("GET", f"/api/v1/center/applications/{refused}/documents", 200))[
        "items"
    ]
    keys = await list_keys(s3_server, s3_bucket)
    assert any(k.startswith("centre/documents/") and k.endswith(".docx") for k in keys)
    assert not (settings.data_dir / "materials").exists()  # nothing on this machine's disk
    resp = await app.get(letter["url"], headers=c.h)
    assert resp.status == 200
    assert "申请人家庭收入高于当地经济困难标准" in text_of(await resp.read())


async def test_the_sweep_lists_the_bucket(app, s3_server, s3_bucket):
    from datetime import UTC, datetime, timedelta

    from handlers.storage_sweep import sweep

    storage = app.app[storage_key]
    keys = [await storage.put("documents/330602", "docx", PDF) for _ in range(3)]
    listed = [k async for k, _ in storage.listing()]
    assert sorted(listed) == sorted(keys)
    # no row names them: a day later they go
    later = datetime.now(UTC) + timedelta(days=2)
    assert await sweep(storage, later, dry_run=True) == (3, 3)
    assert len(await list_keys(s3_server, s3_bucket)) == 3  # a dry run deletes nothing
    assert await sweep(storage, later) == (3, 3)
    assert await list_keys(s3_server, s3_bucket) == []
