"""Done when: closed case -> invitation -> scan -> four answers -> in the centre API and the
coverage figure, with an alert for a bad answer. Zhashui's policy (target 0.9), through the
webhook, the centre API, the outbox dispatcher and the fake WeChat and centre servers."""

from __future__ import annotations

import json

import pytest

from tests.conftest import drain_outbox
from tests.test_cases_support import (
    ID_NUMBER,
    PHONE,
    add_staff,
    center_key,
    invite,
    next_created,
    put_case,
    sent_to,
    voice,
)


@pytest.fixture
def settings(settings, fake_center):
    return settings.model_copy(
        update={
            "policy": "zhashui",
            "center_webhook_url": fake_center.url + "/events",
            "center_webhook_secret": fake_center.secret,
        }
    )


async def test_closed_case_to_coverage_with_an_alert(app, user, fake_wechat, fake_center):
    await add_staff("王主任", "o-supervisor", supervisor=True)
    await add_staff("小李", "o-clerk")
    key = await center_key()
    await put_case(app, key, expect=200)
    await put_case(app, key, case_no="柞法援民2026-13", expect=200)  # a second closed case

    inv = await invite(app, key)
    reply = await user.event("SCAN", inv["scene"], created=next_created())
    assert "第1题" in reply
    assert "收了什么" in await user.say("1")
    await user.say("要了两条烟")
    await user.send(voice(user.openid, "没有。"))
    await user.say("2")  # 不满意
    assert "意见建议：建议多回访" in await user.say("建议多回访")
    assert "感谢" in await user.say("1")

    resp = await app.get("/api/v1/center/callbacks", params={"status": "completed"}, headers=key)
    [item] = (await resp.json())["items"]
    assert item["case_no"] == "柞法援民2026-12" and item["channel"] == "wechat"
    assert (item["fee_charged"], item["negligent"], item["satisfied"]) == (True, False, False)
    assert item["fee_details"] == "要了两条烟" and item["comments"] == "建议多回访"
    assert item["handler"] == {"name": "李律师", "org": "柞水县正义律师事务所"}
    assert item["answered_at"] and item["flagged"] is True

    stats = await (await app.get("/api/v1/center/stats/callbacks", headers=key)).json()
    assert stats == {
        "closed_cases": 2,
        "completed": 1,
        "coverage": 0.5,
        "target": 0.9,
        "satisfied_share": 0.0,
        "flagged": 1,
        "notification_cases": 0,
    }

    await drain_outbox(app)
    [alert] = sent_to(fake_wechat, "o-supervisor")
    assert "回访预警" in alert and "张*丰" in alert and "李律师" in alert and "不满意" in alert
    assert PHONE not in alert and ID_NUMBER not in alert
    assert sent_to(fake_wechat, "o-clerk") == []  # supervisors only
    events = [json.loads(d.body) for d in fake_center.received]
    done = [e for e in events if e["type"] == "callback.completed"]
    assert len(done) == 1 and done[0]["data"]["case_no"] == "柞法援民2026-12"
    assert done[0]["data"]["satisfied"] is False
