"""GET /api/v1/center/outbox and POST .../retry: the centre sees its region's pushes, no content."""

from __future__ import annotations

import pytest

from bot.auth import create_center_key
from bot.notify import notify_user
from models.outbox import OutboxMessage, OutboxStatus
from tests.conftest import app_settings, drain_outbox

REGION, OTHER = "330600", "610626"
CUSTOM = "message/custom/send"


async def failed_pushes(app, fake_wechat, region: str, n: int) -> None:
    for i in range(n):
        await notify_user(
            app_settings(app),
            openid=f"o-{region}-{i}",
            key=f"{region}:{i}",
            region=region,
            text=f"秘密内容 {i} 13812345678",
        )
    fake_wechat.fail_next(CUSTOM, 43004, times=n)
    await drain_outbox(app)


async def test_failed_rows_of_the_region_only_without_content(app, fake_wechat):
    key = await create_center_key(REGION)
    await failed_pushes(app, fake_wechat, REGION, 2)
    await failed_pushes(app, fake_wechat, OTHER, 1)
    await notify_user(app_settings(app), openid="o-ok", key="ok", region=REGION, text="ok")
    await drain_outbox(app)

    resp = await app.get("/api/v1/center/outbox?status=failed", headers={"X-Api-Key": key})
    assert resp.status == 200
    raw = await resp.text()
    body = await resp.json()
    assert len(body["items"]) == 2 and body["next_cursor"] is None
    item = body["items"][0]
    assert set(item) >= {"channel", "kind", "status", "attempts", "last_error", "created_at"}
    assert item["channel"] == "wechat_text" and item["status"] == "failed"
    assert item["attempts"] == 1 and item["last_error"].startswith("43004")
    assert "秘密内容" not in raw and "o-330600" not in raw and "payload" not in item
    everything = await (await app.get("/api/v1/center/outbox", headers={"X-Api-Key": key})).json()
    assert sorted(i["status"] for i in everything["items"]) == ["failed", "failed", "sent"]


async def test_pages_follow_the_cursor_newest_first(app, fake_wechat):
    key = await create_center_key(REGION)
    await failed_pushes(app, fake_wechat, REGION, 5)
    seen, cursor = [], None
    while True:
        params = {"status": "failed", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (
            await app.get("/api/v1/center/outbox", params=params, headers={"X-Api-Key": key})
        ).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [r.id for r in await OutboxMessage.all().order_by("-id")]
    assert seen == ids and len(seen) == 5


async def test_without_a_valid_key_is_401(app):
    assert (await app.get("/api/v1/center/outbox")).status == 401
    resp = await app.get("/api/v1/center/outbox", headers={"X-Api-Key": "lak_wrong"})
    assert resp.status == 401 and "error" in await resp.json()


@pytest.mark.parametrize(
    "query", ["status=lost", "limit=0", "limit=10000", "cursor=abc", "cursor=-1"]
)
async def test_bad_query_is_422_and_the_server_keeps_serving(app, query):
    key = await create_center_key(REGION)
    resp = await app.get(f"/api/v1/center/outbox?{query}", headers={"X-Api-Key": key})
    assert resp.status == 422
    assert (await resp.json())["error"]["fields"]
    assert (await app.get("/healthz")).status == 200


async def test_retry_only_a_failed_row_of_ones_own_region(app, fake_wechat):
    key = await create_center_key(REGION)
    other_key = await create_center_key(OTHER)
    await failed_pushes(app, fake_wechat, REGION, 1)
    row = await OutboxMessage.get(region=REGION)
    assert (
        await app.post(f"/api/v1/center/outbox/{row.id}/retry", headers={"X-Api-Key": other_key})
    ).status == 404
    assert (
        await app.post("/api/v1/center/outbox/x1/retry", headers={"X-Api-Key": key})
    ).status == 404
    resp = await app.post(f"/api/v1/center/outbox/{row.id}/retry", headers={"X-Api-Key": key})
    assert resp.status == 200
    again = await app.post(f"/api/v1/center/outbox/{row.id}/retry", headers={"X-Api-Key": key})
    assert again.status == 409 and (await again.json())["error"]["code"] == "outbox_not_failed"
    await drain_outbox(app)  # the openid follows again: it goes through now
    assert (await OutboxMessage.get(id=row.id)).status == OutboxStatus.SENT
    assert len(fake_wechat.calls_to(CUSTOM)) == 2


async def test_openapi_documents_the_outbox_endpoints(app):
    doc = await (await app.get("/api/v1/openapi.json")).json()
    get = doc["paths"]["/api/v1/center/outbox"]["get"]
    assert {p["name"] for p in get["parameters"]} >= {"status", "limit", "cursor"}
    assert "post" in doc["paths"]["/api/v1/center/outbox/{id}/retry"]
