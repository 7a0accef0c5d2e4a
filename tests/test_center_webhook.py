"""Results flow into the centre's records: every event, signed, exactly once through retries.

Applications are filed and decided, a callback recorded, a complaint filed in chat and moved on,
all through the real endpoints and chat; the centre's records system (the fake receiver) is
down for a while. What it finally holds is checked event by event.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import create_app
from bot.push import (
    HEADER_EVENT,
    HEADER_EVENT_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    verify_signature,
)
from models.outbox import OutboxMessage, OutboxStatus
from tests import applications_support as apps
from tests.conftest import WeChatUser, drain_outbox
from tests.fake_wechat import CENTER_SECRET
from tests.test_cases_support import ID_NUMBER, PHONE, center_key, put_case

EXPECTED = {
    "application.submitted",
    "application.decided",
    "callback.completed",
    "complaint.created",
    "complaint.updated",
}


@pytest.fixture
async def client(app, aiohttp_client, settings, fake_center):
    return await aiohttp_client(
        create_app(
            settings.model_copy(
                update={
                    "center_webhook_url": fake_center.url + "/records/events",
                    "center_webhook_secret": CENTER_SECRET,
                    "default_region": apps.REGION,
                }
            )
        )
    )


async def deliver_through_outage(client) -> None:
    """Run the dispatcher as time passes: every backoff is waited out, no sleeping."""
    for _ in range(6):
        await drain_outbox(client)
        await OutboxMessage.filter(status=OutboxStatus.PENDING).update(
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
        )


async def test_every_event_arrives_signed_and_once_through_an_outage(
    client, fake_center, fake_wechat
):
    fake_center.fail_next(times=4, status=503)  # the records system is down at first
    key = {"X-Api-Key": (await center_key(apps.REGION))["X-Api-Key"]}

    token, _ = await apps.agent_token(client, fake_wechat)
    resp = await apps.file(client, token)
    assert resp.status == 201, await resp.text()
    app_id = (await resp.json())["id"]
    again = await apps.file(client, token, key="key-replayed")
    await apps.file(client, token, key="key-replayed")  # a replay: no second event
    assert again.status == 201
    resp = await client.post(
        f"/api/v1/center/applications/{app_id}/decision",
        json={"decision": "granted", "case_no": "绍援2026-1"},
        headers=key,
    )
    assert resp.status == 200, await resp.text()

    case = await put_case(client, key, case_no="绍援2026-1", region=apps.REGION)
    callback_id = case["callback"]["id"]
    result = {
        "channel": "phone",
        "called_by": "赵",
        "fee_charged": False,
        "negligent": False,
        "satisfied": True,
        "comments": "很好",
    }
    for _ in range(2):  # recorded twice by two clerks: the first stands, one event
        await client.post(
            f"/api/v1/center/callbacks/{callback_id}/result", json=result, headers=key
        )

    user = WeChatUser(client, openid="o-complainant")
    reply = await user.say("投诉 律师一直不接电话，也不告诉我进展")
    ticket = next(w for w in reply.replace("：", " ").split() if w.isdigit() and len(w) >= 10)
    resp = await client.patch(
        f"/api/v1/center/complaints/{ticket}", json={"status": "accepted"}, headers=key
    )
    assert resp.status == 200, await resp.text()

    await deliver_through_outage(client)

    assert [d.status for d in fake_center.calls[:4]] == [503] * 4
    received = fake_center.received
    types = Counter(d.headers[HEADER_EVENT] for d in received)
    assert set(types) == EXPECTED
    assert types["application.submitted"] == 2  # two applications filed, the replay is not one
    assert all(n == 1 for t, n in types.items() if t != "application.submitted")
    ids = [d.headers[HEADER_EVENT_ID] for d in received]
    assert len(ids) == len(set(ids))  # exactly once each
    for d in received:
        assert verify_signature(
            CENTER_SECRET, d.headers[HEADER_TIMESTAMP], d.body, d.headers[HEADER_SIGNATURE]
        )
        body = d.json
        assert body["id"] == d.headers[HEADER_EVENT_ID] and body["type"] == d.headers[HEADER_EVENT]
        assert body["region"] == apps.REGION
    for failed in fake_center.calls[:4]:  # a retried delivery carries the id it will keep
        assert failed.headers[HEADER_EVENT_ID] in ids
    # No phone or ID number travels in an event (the centre pulls personal data by API).
    decided = next(d.json for d in received if d.headers[HEADER_EVENT] == "application.decided")
    assert decided["data"]["status"] == "granted" and decided["data"]["case_no"] == "绍援2026-1"
    text = json.dumps([d.json for d in received], ensure_ascii=False)
    assert PHONE not in text and ID_NUMBER not in text
    assert await OutboxMessage.filter(kind="event").exclude(status="sent").count() == 0
