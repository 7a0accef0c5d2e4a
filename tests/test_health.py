"""GET /healthz and /readyz tell the truth: schema, background rounds, shutdown (sqlite and PG)."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections

from bot.app import create_app
from bot.health import MIGRATIONS_TABLE
from bot.keys import heartbeats_key
from bot.outbox import enqueue
from models.outbox import Channel

CUSTOM = "message/custom/send"


async def probe(client, path: str = "/healthz") -> tuple[int, dict]:
    resp = await client.get(path)
    return resp.status, await resp.json()


@pytest.fixture
def app_with(app, aiohttp_client, settings):
    """The app again with some settings changed, on the same test database as `app`."""

    async def make(**update):
        return await aiohttp_client(create_app(settings.model_copy(update=update)))

    return make


async def test_healthy_service_answers_200_on_both(app):
    for path in ("/healthz", "/readyz"):
        status, body = await probe(app, path)
        assert status == 200 and body == {"status": "ok", "database": "ok", "schema": "ok"}


async def test_a_database_without_our_schema_is_503_with_the_reason(app):
    conn = connections.get("default")
    await conn.execute_script(f'ALTER TABLE "{MIGRATIONS_TABLE}" RENAME TO "moved_away"')
    try:
        for path in ("/healthz", "/readyz"):
            status, body = await probe(app, path)
            assert status == 503, body
            assert body["status"] == "unavailable" and body["reason"] == "schema_missing"
            assert body["schema"] == "missing" and body["database"] == "ok"
    finally:
        await conn.execute_script(f'ALTER TABLE "moved_away" RENAME TO "{MIGRATIONS_TABLE}"')
    assert (await probe(app))[0] == 200


async def test_a_migration_not_applied_is_503_and_named(app):
    conn = connections.get("default")
    # the row is kept aside and put back, so the next test's start finds the schema migrated
    await conn.execute_script(f'CREATE TABLE kept AS SELECT * FROM "{MIGRATIONS_TABLE}"')
    await conn.execute_script(f"DELETE FROM \"{MIGRATIONS_TABLE}\" WHERE name = '0001_initial'")
    try:
        status, body = await probe(app)
        assert status == 503 and body["reason"] == "schema_not_migrated"
        assert body["missing_migrations"] == ["0001_initial"]
        assert (await probe(app, "/readyz"))[0] == 503
    finally:
        await conn.execute_script(
            f'DELETE FROM "{MIGRATIONS_TABLE}"; INSERT INTO '
            f'"{MIGRATIONS_TABLE}" SELECT * FROM kept; DROP TABLE kept'
        )
    assert (await probe(app))[0] == 200


async def test_an_outbox_round_stuck_longer_than_the_setting_is_503(app_with, fake_wechat):
    client = await app_with(
        background=True, health_max_round_age=1.0, outbox_interval=0.05, scheduler_interval=0.1
    )
    status, body = await probe(client)
    assert status == 200 and body["outbox"]["status"] == "ok" and "scheduler" in body
    fake_wechat.delay_next(CUSTOM, 3.0)  # WeChat hangs: the dispatcher's round cannot end
    await enqueue(
        channel=Channel.WECHAT_TEXT, recipient="o-1", dedupe_key="hang", payload={"text": "hi"}
    )
    for _ in range(60):
        status, body = await probe(client)
        if status == 503:
            break
        await asyncio.sleep(0.1)
    assert status == 503 and body["reason"] == "outbox_stalled", body
    assert body["outbox"]["status"] == "stalled" and body["outbox"]["last_round_age"] > 1.0
    # readiness does not depend on the background rounds: requests are still served
    assert (await probe(client, "/readyz"))[0] == 200
    for _ in range(60):  # WeChat answers again, the round ends, health comes back by itself
        status, body = await probe(client)
        if status == 200:
            break
        await asyncio.sleep(0.1)
    assert status == 200 and len(fake_wechat.calls_to(CUSTOM)) == 1


async def test_a_failing_round_does_not_count_as_completed(app_with, monkeypatch):
    client = await app_with(background=True, health_max_round_age=0.5, scheduler_interval=0.05)
    import bot.scheduler

    async def broken(app, now=None):
        raise ConnectionError("database away")

    monkeypatch.setattr(bot.scheduler, "tick", broken)
    await asyncio.sleep(0.8)
    status, body = await probe(client)
    assert status == 503 and "scheduler_stalled" in body["reasons"], body


async def test_shutting_down_is_503_at_once(app):
    app.app[heartbeats_key].stop()
    for path in ("/healthz", "/readyz"):
        status, body = await probe(app, path)
        assert status == 503 and body["status"] == "shutting_down"
