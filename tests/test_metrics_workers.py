"""`serve --workers 2` on PostgreSQL: any scrape of /metrics shows the sum of both workers."""

from __future__ import annotations

import random
import re

import aiohttp
import pytest
from wechatpy.crypto import WeChatCrypto

from bot.wechat.protocol import build_text_xml, encrypted_request, reply_content
from tests.conftest import ACCOUNT, AES_KEY, PG_URL, TOKEN
from tests.fake_wechat import OA_APP_ID
from tests.serve_support import Served
from tests.test_workers import pg

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not PG_URL,
        reason="several workers need PostgreSQL: set "
        "BOT_TEST_DATABASE_URL (CI does in its PostgreSQL pass)",
    ),
]
CRYPTO = WeChatCrypto(TOKEN, AES_KEY, OA_APP_ID)
MESSAGES = 40


def sample(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_one_scrape_sums_both_workers(tmp_path, fake_wechat):
    await pg("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    srv = Served(tmp_path, fake_wechat.url, "--workers", "2")
    try:
        await srv.start()
        pids: set[str] = set()
        # a new connection per request, so the kernel spreads them over the two workers
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(srv.url, connector=connector) as s:
            for i in range(MESSAGES):
                xml = build_text_xml(f"o-metrics-{i}", ACCOUNT, "帮助", random.getrandbits(62))
                query, body = encrypted_request(
                    CRYPTO, TOKEN, xml, ACCOUNT, nonce=str(random.randint(10**8, 10**9))
                )
                async with s.post("/wechat", params=query, data=body.encode()) as r:
                    assert r.status == 200
                    assert "使用说明" in reply_content(CRYPTO, query, await r.text())
            scrapes = []
            for _ in range(10):
                async with s.get("/metrics") as r:
                    text = await r.text()
                scrapes.append(sample(text, 'wechat_inbound_messages_total{type="text"}'))
                pids.update(re.findall(r'pid="(\d+)"', text))
                assert sample(text, "wechat_webhook_seconds_count") == MESSAGES
                assert sample(text, 'outbox_rows{status="pending"}') >= 0
        assert scrapes == [MESSAGES] * 10, scrapes
        assert not pids  # summed, not one series per process
        log = srv.log.read_text()
        assert log.count("serving on") >= 2  # the supervisor and its workers
    finally:
        srv.stop()
        await pg("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
