"""The centre lists its region's applications in full, decides, and the agent learns of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.auth import create_center_key
from models.agent import Agent
from models.application import Application, DataAccess
from models.outbox import OutboxMessage
from tests.applications_support import ADULT_ID, OTHER_REGION, REGION, agent_token, bearer, file
from tests.conftest import drain_outbox


async def _filed(app, fake_wechat, openid: str = "o-wxa-agent-1", region: str = REGION):
    token, agent = await agent_token(app, fake_wechat, openid=openid, region=region)
    created = await (await file(app, token)).json()
    return token, agent, created["id"]


async def test_centre_lists_its_region_in_full_and_is_audited(app, fake_wechat):
    key = await create_center_key(REGION)
    other_key = await create_center_key(OTHER_REGION)
    _, agent, app_id = await _filed(app, fake_wechat)
    await _filed(app, fake_wechat, openid="o-wxa-far", region=OTHER_REGION)
    resp = await app.get("/api/v1/center/applications", headers={"X-Api-Key": key})
    assert resp.status == 200
    items = (await resp.json())["items"]
    assert [i["id"] for i in items] == [app_id]
    item = items[0]
    assert item["applicant"] == {
        "name": "张三丰",
        "id_number": ADULT_ID,
        "phone": "13812345678",
        "address": "浙江省绍兴市越城区东浦街道东浦村3组",
    }
    assert item["agent"]["id"] == agent.id and item["hardship"]["basis"] == "pledge"
    assert item["hardship"]["pledge"]["confirmed_by"] == "fingerprint"
    access = await DataAccess.all()
    assert [(a.action, a.application_ids) for a in access] == [("list", [app_id])]
    far = (
        await (
            await app.get("/api/v1/center/applications", headers={"X-Api-Key": other_key})
        ).json()
    )["items"]
    assert [i["id"] for i in far] != [app_id] and len(far) == 1


async def test_wrong_or_missing_key_is_401(app):
    assert (await app.get("/api/v1/center/applications")).status == 401
    resp = await app.get("/api/v1/center/applications", headers={"X-Api-Key": "lak_wrong"})
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"


async def test_status_since_and_cursor_filters(app, fake_wechat):
    key = await create_center_key(REGION)
    token, _, first = await _filed(app, fake_wechat)
    ids = [first] + [(await (await file(app, token)).json())["id"] for _ in range(2)]
    h = {"X-Api-Key": key}
    page = await (await app.get("/api/v1/center/applications?limit=2", headers=h)).json()
    assert [i["id"] for i in page["items"]] == ids[:2] and page["next_cursor"]
    rest = await (
        await app.get(
            f"/api/v1/center/applications?limit=2&cursor={page['next_cursor']}", headers=h
        )
    ).json()
    assert [i["id"] for i in rest["items"]] == ids[2:] and rest["next_cursor"] is None
    await app.post(
        f"/api/v1/center/applications/{ids[1]}/decision",
        headers=h,
        json={"decision": "granted", "case_no": "(2026)绍援字第12号"},
    )
    granted = await (await app.get("/api/v1/center/applications?status=granted", headers=h)).json()
    assert [i["id"] for i in granted["items"]] == [ids[1]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = await app.get("/api/v1/center/applications", params={"since": future}, headers=h)
    assert (await later.json())["items"] == []
    bad = await app.get("/api/v1/center/applications?status=maybe", headers=h)
    assert bad.status == 422 and "status" in (await bad.json())["error"]["fields"]


async def test_decision_reaches_a_chat_agent_and_shows_in_their_view(app, fake_wechat, make_user):
    key = await create_center_key(REGION)
    token, agent, app_id = await _filed(app, fake_wechat)
    await Agent.filter(id=agent.id).update(oa_openid="o-oa-agent-1")
    resp = await app.post(
        f"/api/v1/center/applications/{app_id}/decision",
        headers={"X-Api-Key": key},
        json={"decision": "granted", "reason": "", "case_no": "(2026)绍援字第7号"},
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "granted"
    await drain_outbox(app)
    texts = [
        b["text"]["content"]
        for b in fake_wechat.bodies("message/custom/send")
        if b["touser"] == "o-oa-agent-1"
    ]
    assert len(texts) == 2 and f"#{app_id}" in texts[0] and "给予法律援助" in texts[0]
    assert "给予法律援助决定书" in texts[1] and "/api/v1/documents/" in texts[1]  # docs/assignment
    assert "张*丰" in texts[0] and ADULT_ID not in texts[0]
    got = await (await app.get(f"/api/v1/applications/{app_id}", headers=bearer(token))).json()
    assert got["status"] == "granted"
    assert (
        got["decision"]["decision"] == "granted"
        and got["decision"]["case_no"] == "(2026)绍援字第7号"
    )


async def test_subscribe_message_is_attempted_and_43101_is_not_retried(
    aiohttp_client, app, settings, fake_wechat
):
    from bot.app import create_app

    client = await aiohttp_client(
        create_app(settings.model_copy(update={"wxa_decision_template_id": "tmpl-decision"}))
    )
    key = await create_center_key(REGION)
    _, _, first = await _filed(client, fake_wechat)
    token, _ = await agent_token(client, fake_wechat, openid="o-wxa-agent-2")
    second = (await (await file(client, token)).json())["id"]
    h = {"X-Api-Key": key}
    await client.post(
        f"/api/v1/center/applications/{first}/decision",
        headers=h,
        json={"decision": "refused", "reason": "不符合经济困难标准"},
    )
    fake_wechat.fail_next("message/subscribe/send", 43101)
    await drain_outbox(client)
    rows = await OutboxMessage.filter(channel="wxa_subscribe")
    assert len(rows) == 1 and rows[0].status == "failed" and rows[0].attempts == 1
    assert "43101" in rows[0].last_error
    await client.post(
        f"/api/v1/center/applications/{second}/decision",
        headers=h,
        json={"decision": "need_materials", "reason": "请补充工资欠条"},
    )
    await drain_outbox(client)
    sent = fake_wechat.bodies("message/subscribe/send")
    assert len(sent) == 2 and sent[-1]["touser"] == "o-wxa-agent-2"
    assert sent[-1]["template_id"] == "tmpl-decision"
    assert sent[-1]["data"]["character_string1"]["value"] == str(second)
    assert sent[-1]["data"]["phrase2"]["value"] == "补充材料"
    await drain_outbox(client)
    assert len(fake_wechat.bodies("message/subscribe/send")) == 2  # the 43101 was not retried


async def test_refusal_needs_a_reason_and_other_regions_get_404(app, fake_wechat):
    key = await create_center_key(REGION)
    other = await create_center_key(OTHER_REGION)
    _, _, app_id = await _filed(app, fake_wechat)
    url = f"/api/v1/center/applications/{app_id}/decision"
    resp = await app.post(url, headers={"X-Api-Key": key}, json={"decision": "refused"})
    assert resp.status == 422 and "reason" in (await resp.json())["error"]["fields"]
    resp = await app.post(url, headers={"X-Api-Key": other}, json={"decision": "granted"})
    assert resp.status == 404
    assert (await Application.get(id=app_id)).status == "received"
    resp = await app.post(url, headers={"X-Api-Key": key}, json={"decision": "maybe"})
    assert resp.status == 422
    assert (
        await app.post(url, headers={"X-Api-Key": key}, json={"decision": "granted"})
    ).status == 200
    again = await app.post(url, headers={"X-Api-Key": key}, json={"decision": "granted"})
    assert again.status == 200  # the same decision twice is harmless
    resp = await app.post(
        url, headers={"X-Api-Key": key}, json={"decision": "refused", "reason": "改主意"}
    )
    assert resp.status == 409
    missing = "/api/v1/center/applications/999999/decision"
    assert (
        await app.post(missing, headers={"X-Api-Key": key}, json={"decision": "granted"})
    ).status == 404


async def test_centre_events_for_submitted_and_decided(
    aiohttp_client, app, settings, fake_wechat, fake_center
):
    from bot.app import create_app

    client = await aiohttp_client(
        create_app(
            settings.model_copy(
                update={
                    "center_webhook_url": fake_center.url + "/events",
                    "center_webhook_secret": fake_center.secret,
                }
            )
        )
    )
    key = await create_center_key(REGION)
    _, _, app_id = await _filed(client, fake_wechat)
    await client.post(
        f"/api/v1/center/applications/{app_id}/decision",
        headers={"X-Api-Key": key},
        json={"decision": "granted"},
    )
    await drain_outbox(client)
    events = [(d.json["type"], d.json["data"]["id"]) for d in fake_center.received]
    assert events == [("application.submitted", app_id), ("application.decided", app_id)]
    assert all(ADULT_ID not in d.body.decode() for d in fake_center.received)
