"""Database faults under load, on a real `python -m bot serve` process and PostgreSQL.

PostgreSQL ends the service's connections (`pg_terminate_backend`, what a failover, a restart
or an administrator does) several times while the outbox is delivering a burst and users are
chatting. The background tasks must come back by themselves: every queued push delivered once
(the fake WeChat counts them), the scheduler ticking again, /healthz honest meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import aiohttp
import pytest

from tests.conftest import PG_URL
from tests.test_workers import pg, post, signed_message, workers  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not PG_URL,
        reason="killing database backends needs PostgreSQL: set "
        "BOT_TEST_DATABASE_URL (CI does in its PostgreSQL pass)",
    ),
]
log = logging.getLogger(__name__)
PUSHES = 600  # a burst the dispatcher needs several seconds for (each send takes 50 ms)
KILLS = 4
KILL_EVERY = 0.8  # seconds between two rounds of pg_terminate_backend
RECOVERY = 30.0  # seconds the issue allows for coming back once the database answers again


async def kill_service_backends() -> int:
    rows = await pg(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return rows[0]["n"]


async def health(session: aiohttp.ClientSession, url: str) -> tuple[int, dict]:
    try:
        async with session.get(url + "/healthz") as r:
            return r.status, await r.json()
    except (aiohttp.ClientError, ValueError):
        return 0, {}


async def test_outbox_and_scheduler_recover_after_connections_are_killed(workers, fake_wechat):
    (a,) = await workers(1, BOT_OUTBOX_INTERVAL="0.2", BOT_SCHEDULER_INTERVAL="0.3")
    fake_wechat.delay_next("message/custom/send", 0.05, times=PUSHES)
    values = ", ".join(
        f"('fault:{i}', 'wechat_text', 'o-fault-{i}', '{{\"text\": \"hello {i}\"}}', 'test', "
        f"'pending', 0, now(), now())"
        for i in range(PUSHES)
    )
    await pg(
        "INSERT INTO outbox (dedupe_key, channel, recipient, payload, kind, status, "
        f"attempts, next_attempt_at, created_at) VALUES {values}"
    )
    chat: Counter[int] = Counter()
    stop = asyncio.Event()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:

        async def chatter() -> None:  # users keep writing while the connections die
            i = 0
            while not stop.is_set():
                query, body = signed_message(f"o-chat-{i % 20}", "帮助", 20000 + i)
                try:
                    status, _ = await post(s, a, query, body)
                except aiohttp.ClientError:
                    status = 0
                chat[status] += 1
                i += 1
                await asyncio.sleep(0.02)

        load = asyncio.create_task(chatter())
        while not fake_wechat.calls_to("message/custom/send"):  # the burst is under way
            await asyncio.sleep(0.05)
        killed = []
        for _ in range(KILLS):
            killed.append(await kill_service_backends())
            await asyncio.sleep(KILL_EVERY)
        last_kill = time.monotonic()
        sent_at_kill = len(fake_wechat.calls_to("message/custom/send"))
        healthy_after = all_sent_after = None
        while time.monotonic() - last_kill < RECOVERY + 30:
            status, body = await health(s, a.url)
            if (
                healthy_after is None
                and status == 200
                and body.get("scheduler", {}).get("last_round_age", 1e9)
                < time.monotonic() - last_kill
            ):
                healthy_after = time.monotonic() - last_kill
            done = (await pg("SELECT count(*) AS n FROM outbox WHERE status = 'sent'"))[0]["n"]
            if done == PUSHES and all_sent_after is None:
                all_sent_after = time.monotonic() - last_kill
            if healthy_after is not None and all_sent_after is not None:
                break
            await asyncio.sleep(0.2)
        stop.set()
        await load
        # users are answered again once the database is back
        query, body = signed_message("o-chat-after", "帮助", 90000)
        assert (await post(s, a, query, body))[0] == 200
    sends = Counter(b["touser"] for b in fake_wechat.bodies("message/custom/send"))
    log.warning(
        "fault test: killed %s backends in %d rounds; %d of %d pushes were out at the "
        "last kill; all %d delivered %.1f s after it; health and scheduler back after "
        "%s s; chat answers during the test %s",
        killed,
        KILLS,
        sent_at_kill,
        PUSHES,
        sum(sends.values()),
        all_sent_after or -1,
        healthy_after,
        dict(chat),
    )
    assert sum(killed) >= KILLS, "the service held no connections to kill"
    assert all_sent_after is not None and all_sent_after < RECOVERY, a.log.read_text()[-3000:]
    assert healthy_after is not None and healthy_after < RECOVERY, a.log.read_text()[-3000:]
    assert set(sends) == {f"o-fault-{i}" for i in range(PUSHES)}
    assert [who for who, n in sends.items() if n > 1] == []  # none sent twice


async def test_a_transaction_that_cannot_begin_leaves_nothing_behind(app, monkeypatch):
    """BEGIN on a connection PostgreSQL just closed: the task keeps a working connection and
    the pool gets its slot back (Tortoise 1.1 kept both, so the task failed until restarted)."""
    from tortoise import connections
    from tortoise.backends.asyncpg.client import TransactionWrapper
    from tortoise.transactions import in_transaction

    real_begin, failures = TransactionWrapper.begin, [ConnectionError("closed")] * 3

    async def begin(self):
        if failures:
            raise failures.pop()
        return await real_begin(self)

    monkeypatch.setattr(TransactionWrapper, "begin", begin)
    client = connections.get("default")
    for _ in range(3):
        with pytest.raises(ConnectionError):
            async with in_transaction():
                pass
        assert connections.get("default") is client
    for _ in range(2 * client.pool_maxsize):  # every slot of the pool is free again
        async with in_transaction() as conn:
            await asyncio.wait_for(conn.execute_query("SELECT 1"), 5)
