"""The outbox against WeChat's and the centre's faults: every push arrives once, or is visibly failed.

Pushes are queued with the real notify functions and delivered by the real dispatcher to the
fake WeChat server and the fake centre receiver. "Time passing" (a backoff delay, a lease that
runs out after a crash) is simulated by moving the row's timestamps, never by sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from bot.app import create_app
from bot.auth import create_center_key
from bot.notify import alert_staff, emit_event, notify_user
from bot.outbox import Dispatcher, enqueue
from bot.push import (
    HEADER_EVENT,
    HEADER_EVENT_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    verify_signature,
)
from models.outbox import Channel, OutboxMessage, OutboxStatus
from models.people import Staff
from tests.conftest import PG_URL, app_settings, drain_outbox
from tests.fake_wechat import CENTER_SECRET

REGION = "610626"
CUSTOM = "message/custom/send"
TEMPLATE = "message/template/send"
SUBSCRIBE = "message/subscribe/send"


async def make_due() -> None:
    """What waiting out a backoff does: every pending row becomes due now."""
    await OutboxMessage.filter(status=OutboxStatus.PENDING).update(
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
    )


async def expire_leases() -> None:
    """What waiting out a dead worker's lease does."""
    await OutboxMessage.filter(status=OutboxStatus.SENDING).update(
        locked_until=datetime.now(UTC) - timedelta(seconds=1)
    )


@pytest.fixture
def app_with(app, aiohttp_client, settings):
    """The app again with some settings changed, on the same test database as `app` (which
    it replaces: requesting `app` marks the test `db` and empties PostgreSQL after it)."""

    async def make(**update):
        return await aiohttp_client(create_app(settings.model_copy(update=update)))

    return make


async def only_row() -> OutboxMessage:
    rows = await OutboxMessage.all()
    assert len(rows) == 1, rows
    return rows[0]


# --- WeChat errcodes ----------------------------------------------------------------------------


async def test_43101_refused_subscribe_message_is_failed_not_retried(app, fake_wechat):
    await enqueue(
        channel=Channel.WXA_SUBSCRIBE,
        recipient="o-agent-1",
        dedupe_key="decision:1",
        region=REGION,
        payload={"template_id": "tpl-decision", "data": {"thing1": "x"}},
    )
    fake_wechat.fail_next(SUBSCRIBE, 43101)
    await drain_outbox(app)
    row = await only_row()
    assert row.status == OutboxStatus.FAILED and row.last_error.startswith("43101")
    await make_due()
    await drain_outbox(app)
    assert len(fake_wechat.calls_to(SUBSCRIBE)) == 1


async def test_45015_falls_back_to_the_notice_template_once(app_with, fake_wechat):
    client = await app_with(notice_template_id="tpl-notice")
    await notify_user(
        app_settings(client),
        openid="o-old-user",
        key="complaint:7:accepted",
        text="您的投诉已受理\n编号 TS-7",
    )
    fake_wechat.fail_next(CUSTOM, 45015)
    await drain_outbox(client)
    row = await only_row()
    assert row.status == OutboxStatus.SENT and row.channel == Channel.WECHAT_TEMPLATE
    assert row.payload["fallback_of"] == "wechat_text"
    [body] = fake_wechat.bodies(TEMPLATE)
    assert body["touser"] == "o-old-user" and body["template_id"] == "tpl-notice"
    assert body["client_msg_id"] == "notice:complaint:7:accepted"
    assert "您的投诉已受理" in body["data"]["first"]["value"]
    assert len(fake_wechat.calls_to(CUSTOM)) == 1


async def test_45015_without_a_template_is_failed_and_visible(app, fake_wechat):
    await notify_user(app_settings(app), openid="o-old-user", key="k1", text="hello")
    fake_wechat.fail_next(CUSTOM, 45015)
    await drain_outbox(app)
    row = await only_row()
    assert row.status == OutboxStatus.FAILED and "45015" in row.last_error
    assert fake_wechat.calls_to(TEMPLATE) == []


async def test_40001_stale_token_is_refreshed_and_the_send_retried_at_once(app, fake_wechat):
    await notify_user(app_settings(app), openid="o-u1", key="first", text="one")
    await drain_outbox(app)
    fake_wechat.expire_tokens(errcode=40001)  # e.g. another tool forced a refresh
    await notify_user(app_settings(app), openid="o-u1", key="second", text="two")
    await drain_outbox(app)
    rows = await OutboxMessage.all().order_by("id")
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)]
    sends = fake_wechat.calls_to(CUSTOM)
    assert [c.body["text"]["content"] for c in sends] == ["one", "two", "two"]
    assert sends[1].query["access_token"] != sends[2].query["access_token"]
    assert len(fake_wechat.calls_to("stable_token")) == 2


async def test_system_busy_is_retried_with_growing_backoff_then_sent_once(app, fake_wechat):
    await notify_user(app_settings(app), openid="o-u2", key="busy", text="稍后送达")
    fake_wechat.fail_next(CUSTOM, -1, times=2)
    before = datetime.now(UTC)
    await drain_outbox(app)
    row = await only_row()
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error.startswith("-1 ")
    first_wait = row.next_attempt_at - before
    assert timedelta(seconds=3) < first_wait < timedelta(seconds=7)
    await drain_outbox(app)  # not due yet: nothing is sent early
    assert len(fake_wechat.calls_to(CUSTOM)) == 1
    await make_due()
    before = datetime.now(UTC)
    await drain_outbox(app)
    row = await only_row()
    assert row.attempts == 2 and row.next_attempt_at - before > first_wait
    await make_due()
    await drain_outbox(app)
    row = await only_row()
    assert row.status == OutboxStatus.SENT and row.attempts == 3 and row.sent_at
    assert len(fake_wechat.calls_to(CUSTOM)) == 3


async def test_attempts_are_capped_by_the_policy(app_with, fake_wechat):
    client = await app_with(outbox_max_attempts=3)
    await notify_user(app_settings(client), openid="o-u3", key="cap", text="x")
    fake_wechat.fail_next(CUSTOM, -1, times=10)
    for _ in range(5):
        await drain_outbox(client)
        await make_due()
    row = await only_row()
    assert row.status == OutboxStatus.FAILED and row.attempts == 3
    assert row.last_error.startswith("gave up after 3")
    assert len(fake_wechat.calls_to(CUSTOM)) == 3


async def test_staff_who_unfollowed_is_recorded_once_others_still_get_the_alert(app, fake_wechat):
    gone = await Staff.create(name="离职", region=REGION, openid="o-staff-gone")
    await Staff.create(name="在岗", region=REGION, openid="o-staff-here")
    fake_wechat.fail_next(CUSTOM, 43004)
    await alert_staff(
        app_settings(app), region=REGION, key="complaint:9", title="新投诉", lines=["投诉 TS-9"]
    )
    for _ in range(3):
        await drain_outbox(app)
        await make_due()
    rows = {r.recipient: r for r in await OutboxMessage.all()}
    assert rows[gone.openid].status == OutboxStatus.FAILED
    assert rows[gone.openid].last_error.startswith("43004")
    assert rows["o-staff-here"].status == OutboxStatus.SENT
    assert len(fake_wechat.calls_to(CUSTOM)) == 2


# --- the centre's records webhook --------------------------------------------------------------


def centre(fake_center) -> dict:
    return {
        "center_webhook_url": fake_center.url + "/events",
        "center_webhook_secret": CENTER_SECRET,
    }


async def test_centre_webhook_retries_until_it_is_back_and_gets_the_event_once(
    app_with, fake_center
):
    client = await app_with(**centre(fake_center))
    await emit_event(
        app_settings(client),
        event_type="complaint.created",
        key="complaint:3",
        region=REGION,
        data={"ticket": "TS-3", "status": "received"},
    )
    fake_center.fail_next(times=2, status=503)
    for _ in range(3):
        await drain_outbox(client)
        await make_due()
    assert [d.status for d in fake_center.calls] == [503, 503, 200]
    [got] = fake_center.received
    ids = {d.headers[HEADER_EVENT_ID] for d in fake_center.calls}
    assert ids == {got.json["id"]}  # the same event id on every attempt, and in the body
    assert got.headers[HEADER_EVENT] == "complaint.created"
    assert verify_signature(
        CENTER_SECRET, got.headers[HEADER_TIMESTAMP], got.body, got.headers[HEADER_SIGNATURE]
    )
    assert got.json["data"] == {"ticket": "TS-3", "status": "received"}
    assert (await only_row()).status == OutboxStatus.SENT


async def test_centre_down_ends_failed_visible_and_can_be_sent_again(app_with, fake_center):
    client = await app_with(**centre(fake_center), outbox_max_attempts=3)
    key = await create_center_key(REGION)
    await emit_event(
        app_settings(client),
        event_type="application.decided",
        key="app:5:decided",
        region=REGION,
        data={"application_id": 5, "decision": "granted"},
    )
    fake_center.fail_next(times=3, status=502)
    for _ in range(4):
        await drain_outbox(client)
        await make_due()
    row = await only_row()
    assert row.status == OutboxStatus.FAILED and "502" in row.last_error
    metrics = await (await client.get("/metrics")).text()
    assert 'outbox_failed_total{channel="center_webhook"} 1.0' in metrics
    assert 'outbox_rows{status="failed"} 1.0' in metrics
    resp = await client.get(
        "/api/v1/center/outbox", params={"status": "failed"}, headers={"X-Api-Key": key}
    )
    [item] = (await resp.json())["items"]
    assert item["channel"] == "center_webhook" and item["kind"] == "event"
    assert item["attempts"] == 3 and "502" in item["last_error"]
    # The centre is back: an operator sends it again, and it arrives exactly once.
    resp = await client.post(f"/api/v1/center/outbox/{row.id}/retry", headers={"X-Api-Key": key})
    assert resp.status == 200 and (await resp.json())["status"] == "pending"
    await drain_outbox(client)
    await drain_outbox(client)
    assert len(fake_center.received) == 1
    assert fake_center.received[0].json["data"]["decision"] == "granted"
    assert (await only_row()).status == OutboxStatus.SENT


async def test_an_event_queued_twice_is_delivered_once(app_with, fake_center):
    client = await app_with(**centre(fake_center))
    for _ in range(2):  # a retried request re-emits the same cause
        await emit_event(
            app_settings(client),
            event_type="callback.completed",
            key="callback:8",
            region=REGION,
            data={"case_no": "C-8"},
        )
    await drain_outbox(client)
    assert len(fake_center.calls) == 1


# --- crashes, restarts, several workers --------------------------------------------------------


async def test_crash_between_commit_and_send_loses_nothing(app, fake_wechat):
    async with in_transaction() as conn:
        await notify_user(app_settings(app), openid="o-u4", key="crash", text="到了", conn=conn)
    claimed = await Dispatcher(app.app).claim()  # this worker dies before sending
    assert len(claimed) == 1
    assert (await only_row()).status == OutboxStatus.SENDING
    await drain_outbox(app)  # the lease still holds: no one else touches it yet
    assert fake_wechat.calls_to(CUSTOM) == []
    await expire_leases()
    await drain_outbox(app)
    row = await only_row()
    assert row.status == OutboxStatus.SENT and row.attempts == 2
    assert [c.body["text"]["content"] for c in fake_wechat.calls_to(CUSTOM)] == ["到了"]


async def test_rolled_back_cause_queues_nothing(app, fake_wechat):
    async def step_that_fails() -> None:
        async with in_transaction() as conn:
            await notify_user(app_settings(app), openid="o-u5", key="rb", text="x", conn=conn)
            raise RuntimeError("the step failed")

    with pytest.raises(RuntimeError, match="the step failed"):
        await step_that_fails()
    assert await OutboxMessage.all().count() == 0


async def test_template_resent_after_a_crash_carries_the_same_client_msg_id(app_with, fake_wechat):
    client = await app_with(staff_template_id="tpl-staff")
    await Staff.create(name="值班", region=REGION, openid="o-staff-1")
    await alert_staff(
        app_settings(client),
        region=REGION,
        key="urgent-application:42",
        title="加急申请",
        lines=["欠薪 #42"],
    )
    d = Dispatcher(client.app)
    [row] = await d.claim()
    await d.send(row)  # WeChat accepted it; the worker dies before recording that
    await expire_leases()
    await drain_outbox(client)
    bodies = fake_wechat.bodies(TEMPLATE)
    assert len(bodies) == 2
    assert {b["client_msg_id"] for b in bodies} == {"alert:urgent-application:42:staff:1"}
    assert (await only_row()).status == OutboxStatus.SENT


async def test_two_dispatchers_send_each_row_once(app, fake_wechat):
    s = app_settings(app)
    for i in range(45):
        await notify_user(s, openid=f"o-many-{i:02d}", key=f"many:{i}", text=f"n{i}")
    d1, d2 = Dispatcher(app.app), Dispatcher(app.app)
    for _ in range(5):
        await asyncio.gather(
            d1.dispatch_once(limit=7),
            d2.dispatch_once(limit=7),
            d1.dispatch_once(limit=7),
            d2.dispatch_once(limit=7),
        )
    sent = [c.body["touser"] for c in fake_wechat.calls_to(CUSTOM)]
    assert sorted(sent) == [f"o-many-{i:02d}" for i in range(45)]
    assert await OutboxMessage.filter(status=OutboxStatus.SENT, attempts=1).count() == 45


async def test_a_restart_sends_what_was_queued_and_never_resends_what_was_sent(
    app, aiohttp_client, settings, fake_wechat, tmp_path
):
    """Two processes one after the other on one database file (or PostgreSQL)."""
    on_disk = settings.model_copy(
        update={"database_url": PG_URL or f"sqlite://{(tmp_path / 'restart.sqlite3').as_posix()}"}
    )
    first = await aiohttp_client(create_app(on_disk))
    await notify_user(on_disk, openid="o-r1", key="before", text="已送达")
    await drain_outbox(first)
    await notify_user(on_disk, openid="o-r2", key="queued", text="重启后送达")
    await first.close()  # the process stops with one row still queued

    second = await aiohttp_client(create_app(on_disk))
    await drain_outbox(second)
    await make_due()
    await expire_leases()
    await drain_outbox(second)
    assert [c.body["touser"] for c in fake_wechat.calls_to(CUSTOM)] == ["o-r1", "o-r2"]
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == 2


@pytest.mark.skipif(not PG_URL, reason="SKIP LOCKED is PostgreSQL's")
async def test_rows_locked_by_another_worker_are_skipped_not_waited_for(app, fake_wechat):
    s = app_settings(app)
    for i in range(4):
        await notify_user(s, openid=f"o-lock-{i}", key=f"lock:{i}", text="x")
    locked, release = asyncio.Event(), asyncio.Event()

    async def other_worker() -> None:  # its own task, so its own connection and transaction
        async with in_transaction() as conn:
            await (
                OutboxMessage.filter(recipient__in=["o-lock-0", "o-lock-1"])
                .select_for_update()
                .using_db(conn)
            )
            locked.set()
            await release.wait()

    holder = asyncio.create_task(other_worker())
    await locked.wait()
    try:
        claimed = await asyncio.wait_for(Dispatcher(app.app).claim(), 30)  # a guard, not a timing
    finally:
        release.set()
        await holder
    assert sorted(r.recipient for r in claimed) == ["o-lock-2", "o-lock-3"]
