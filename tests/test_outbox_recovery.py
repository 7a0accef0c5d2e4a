"""The dispatcher across a lost database connection: a sent push is recorded, never sent again;
a claim whose COMMIT failed is picked up by its lease (sqlite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import bot.outbox
from bot.outbox import LEASE, Dispatcher, enqueue
from models.outbox import Channel, OutboxMessage, OutboxStatus
from tests.conftest import drain_outbox

CUSTOM = "message/custom/send"


async def test_a_sent_push_is_recorded_once_the_database_is_back(app, fake_wechat, monkeypatch):
    await enqueue(
        channel=Channel.WECHAT_TEXT, recipient="o-1", dedupe_key="k1", payload={"text": "您好"}
    )
    real_filter, failures = OutboxMessage.filter, [2]

    def filter_(*args, **kwargs):  # storing the outcome fails twice: the connection is gone
        if "id" in kwargs and failures[0]:
            failures[0] -= 1
            raise ConnectionError("connection was closed in the middle of operation")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(bot.outbox.OutboxMessage, "filter", filter_)
    assert await drain_outbox(app) == 1
    monkeypatch.undo()
    row = await OutboxMessage.get(dedupe_key="k1")
    assert row.status == OutboxStatus.SENT and row.attempts == 1 and failures == [0]
    await OutboxMessage.filter(id=row.id).update(locked_until=datetime.now(UTC) - LEASE)
    assert await drain_outbox(app) == 0
    assert len(fake_wechat.calls_to(CUSTOM)) == 1


async def test_a_claim_whose_commit_was_stored_is_sent_by_its_claimer(app, fake_wechat):
    await enqueue(
        channel=Channel.WECHAT_TEXT, recipient="o-1", dedupe_key="mine", payload={"text": "您好"}
    )
    await enqueue(
        channel=Channel.WECHAT_TEXT, recipient="o-2", dedupe_key="theirs", payload={"text": "您好"}
    )
    mine, theirs = (
        await OutboxMessage.get(dedupe_key="mine"),
        await OutboxMessage.get(dedupe_key="theirs"),
    )
    lease = datetime.now(UTC) + LEASE
    # The claim's UPDATE reached the database, its COMMIT's answer did not; meanwhile another
    # worker claimed the second row under its own lease.
    await OutboxMessage.filter(id=mine.id).update(
        status=OutboxStatus.SENDING, locked_until=lease, attempts=1
    )
    await OutboxMessage.filter(id=theirs.id).update(
        status=OutboxStatus.SENDING, locked_until=lease + timedelta(seconds=1), attempts=1
    )
    d = Dispatcher(app.app)
    d.uncertain = (lease, {mine.id: mine, theirs.id: theirs})
    assert await d.dispatch_once() == 1  # at once, not after the two-minute lease
    assert d.uncertain is None
    assert [b["touser"] for b in fake_wechat.bodies(CUSTOM)] == ["o-1"]
    assert (await OutboxMessage.get(id=mine.id)).status == OutboxStatus.SENT
    assert (await OutboxMessage.get(id=theirs.id)).status == OutboxStatus.SENDING


async def test_a_claim_that_was_rolled_back_is_claimed_normally(app, fake_wechat):
    await enqueue(
        channel=Channel.WECHAT_TEXT, recipient="o-1", dedupe_key="k", payload={"text": "您好"}
    )
    row = await OutboxMessage.get(dedupe_key="k")
    d = Dispatcher(app.app)
    d.uncertain = (datetime.now(UTC) + LEASE, {row.id: row})
    assert await d.dispatch_once() == 0  # not ours: nothing stored under that lease
    assert await d.dispatch_once() == 1  # then a normal claim finds it due
    assert len(fake_wechat.calls_to(CUSTOM)) == 1
