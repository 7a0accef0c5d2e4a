"""Complaints on the centre's side: the list with due dates and each procedural step, told to
the complainant through the outbox."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from models.complaint import Complaint
from tests.conftest import drain_outbox
from tests.test_cases_support import OTHER_REGION, center_key, sent_to, today

URL = "/api/v1/center/complaints"


@pytest.fixture
def settings(settings, fake_center):
    return settings.model_copy(
        update={
            "default_region": "611026",
            "center_webhook_url": fake_center.url + "/events",
            "center_webhook_secret": fake_center.secret,
        }
    )


async def file(user, text="投诉 承办律师三个月没有联系我，也不接电话") -> str:
    await user.say(text)
    return (await Complaint.filter(openid=user.openid).order_by("-id").first()).ticket


async def patch(app, key, ticket, **body):
    return await app.patch(f"{URL}/{ticket}", json=body, headers=key)


async def test_list_shows_text_status_and_due_dates(app, user):
    key = await center_key()
    ticket = await file(user)
    page = await (await app.get(URL, headers=key)).json()
    [item] = page["items"]
    assert item["ticket"] == ticket and item["status"] == "received"
    assert "三个月没有联系我" in item["text"]
    assert item["accept_due"] > today().isoformat() and item["conclude_due"] is None
    assert (await (await app.get(URL, headers=await center_key(OTHER_REGION))).json())[
        "items"
    ] == []
    assert (await app.get(f"{URL}/{ticket}", headers=await center_key(OTHER_REGION))).status == 404


async def test_the_whole_procedure_reaches_the_complainant(app, user, fake_wechat, fake_center):
    key = await center_key()
    ticket = await file(user)
    resp = await patch(app, key, ticket, status="accepted", handled_by="赵科长")
    assert resp.status == 200, await resp.text()
    item = await resp.json()
    assert item["accepted_on"] == today().isoformat()
    assert item["conclude_due"] == (today() + timedelta(days=60)).isoformat()
    assert (await patch(app, key, ticket, status="accepted")).status == 200  # a retry: no-op
    assert (await patch(app, key, ticket, status="investigating")).status == 200
    resp = await patch(app, key, ticket, status="extended", reason="需要调取法院卷宗", days=30)
    assert (await resp.json())["conclude_due"] == (today() + timedelta(days=90)).isoformat()
    resp = await patch(app, key, ticket, status="concluded", result="投诉属实，已更换承办律师")
    assert (await resp.json())["status"] == "concluded"
    await drain_outbox(app)
    told = sent_to(fake_wechat, user.openid)
    assert len(told) == 4
    assert "已受理" in told[0] and "延长30天" in told[2] and "已更换承办律师" in told[3]
    types = [json.loads(d.body)["type"] for d in fake_center.received]
    assert types == ["complaint.created"] + ["complaint.updated"] * 4
    assert ticket in await user.say(f"查询投诉 {ticket}") and "已办结" in await user.say(
        f"查询投诉 {ticket}"
    )


async def test_not_accepted_needs_a_reason_and_is_final(app, user, fake_wechat):
    key = await center_key()
    ticket = await file(user)
    resp = await patch(app, key, ticket, status="not_accepted")
    assert resp.status == 422 and "reason" in (await resp.json())["error"]["fields"]
    resp = await patch(app, key, ticket, status="not_accepted", reason="超过三年投诉期限")
    assert resp.status == 200
    resp = await patch(app, key, ticket, status="accepted")
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "invalid_transition"
    await drain_outbox(app)
    assert "超过三年投诉期限" in sent_to(fake_wechat, user.openid)[0]


async def test_bad_steps_are_refused_and_change_nothing(app, user):
    key = await center_key()
    ticket = await file(user)
    assert (await patch(app, key, ticket, status="concluded", result="x")).status == 409
    assert (await patch(app, key, ticket, status="investigating")).status == 409
    assert (await patch(app, key, ticket, status="lost")).status == 422
    assert (await patch(app, key, "0000000000", status="accepted")).status == 404
    assert (
        await patch(app, await center_key(OTHER_REGION), ticket, status="accepted")
    ).status == 404
    await patch(app, key, ticket, status="accepted")
    resp = await patch(app, key, ticket, status="extended", reason="r", days=31)
    assert resp.status == 422 and "days" in (await resp.json())["error"]["fields"]
    assert (await patch(app, key, ticket, status="extended", reason="r")).status == 422
    assert (await patch(app, key, ticket, status="concluded")).status == 422
    assert (await patch(app, key, ticket, status="extended", reason="r", days=10)).status == 200
    resp = await patch(app, key, ticket, status="extended", reason="again", days=5)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "extend_once"
    c = await Complaint.get()
    assert (c.status, c.extended_days) == ("extended", 10)
    bad = await app.patch(f"{URL}/{ticket}", data=b"{", headers=key)
    assert bad.status == 400


async def test_filters_and_pagination(app, make_user):
    key = await center_key()
    tickets = [await file(make_user(f"o-c{n}"), f"投诉 第{n}件投诉的内容比较长") for n in range(5)]
    await patch(app, key, tickets[0], status="accepted")
    accepted = await (await app.get(URL, params={"status": "accepted"}, headers=key)).json()
    assert [i["ticket"] for i in accepted["items"]] == [tickets[0]]
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await app.get(URL, params=params, headers=key)).json()
        seen += [i["ticket"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(tickets)
    future = (today() + timedelta(days=2)).isoformat() + "T00:00:00+08:00"
    later = await (await app.get(URL, params={"since": future}, headers=key)).json()
    assert later["items"] == []
    assert (await app.get(URL, params={"status": "nope"}, headers=key)).status == 422
