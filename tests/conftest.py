"""Test harness: the app built by create_app, a fake WeChat on localhost, and a WeChat-like client.

Database: sqlite in memory by default; PostgreSQL when BOT_TEST_DATABASE_URL is set (the schema
is reset once per session, tables are emptied after each test). On sqlite the first in-memory
database of the session is migrated for real and dumped; later ones replay that dump (the schema
the migrations produced, their records included) — replaying the migration operations took
~1.6 s of every test. Tests that use the `app`
fixture are marked `db`, so CI can run exactly those again on PostgreSQL (`pytest -m db`).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import xmltodict
from aiohttp.test_utils import TestClient
from tortoise import Tortoise, connections
from wechatpy.crypto import WeChatCrypto

import bot.db as bot_db
from bot.app import create_app
from bot.keys import settings_key
from bot.outbox import Dispatcher
from bot.settings import Settings
from bot.wechat.protocol import (
    build_event_xml,
    build_text_xml,
    encrypted_request,
    reply_content,
    signed_query,
)
from tests.fake_wechat import OA_APP_ID, OA_SECRET, WXA_APP_ID, WXA_SECRET

pytest_plugins = ["tests.fakes_plugin"]

PG_URL = os.environ.get("BOT_TEST_DATABASE_URL")
TOKEN = "testtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 chars, as WeChat issues them
ACCOUNT = "gh_test"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "app" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


_schema_reset = False


async def _reset_pg_schema() -> None:
    """Start the session from an empty schema so migrations run from scratch."""
    global _schema_reset
    if _schema_reset or not PG_URL:
        return
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    _schema_reset = True


_real_migrate = bot_db.migrate
_sqlite_dump: list[str] = []


async def _migrate_memory_from_dump() -> None:
    """`bot.db.migrate` for tests: an in-memory sqlite database gets the first one's dump."""
    client = connections.get("default")
    if client.capabilities.dialect != "sqlite" or getattr(client, "filename", "") != ":memory:":
        await _real_migrate()
        return
    if _sqlite_dump:
        async with client.acquire_connection() as raw:  # the aiosqlite connection
            await raw.executescript(_sqlite_dump[0])
        return
    await _real_migrate()
    async with client.acquire_connection() as raw:
        _sqlite_dump.append("\n".join([line async for line in raw.iterdump()]))


bot_db.migrate = _migrate_memory_from_dump


@pytest.fixture
def settings(tmp_path, fake_wechat) -> Settings:
    return Settings(
        _env_file=None,
        database_url=PG_URL or "sqlite://:memory:",
        data_dir=tmp_path,
        wechat_token=TOKEN,
        wechat_aes_key=AES_KEY,
        wechat_app_id=OA_APP_ID,
        wechat_app_secret=OA_SECRET,
        wxa_app_id=WXA_APP_ID,
        wxa_app_secret=WXA_SECRET,
        wechat_api_base=fake_wechat.url,
        secret_key="test-secret-key-not-for-production",
        background=False,  # tests drive the dispatcher and scheduler themselves
    )


@pytest.fixture
async def app(aiohttp_client, settings) -> AsyncIterator[TestClient]:
    """A test client of the full application (`app.app` is the aiohttp Application)."""
    await _reset_pg_schema()
    client = await aiohttp_client(create_app(settings))
    yield client
    if PG_URL:
        tables = [m._meta.db_table for m in Tortoise.apps.get_models_iterable()]
        await connections.get("default").execute_script(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )


@dataclass
class WeChatUser:
    """Sends what WeChat would send for one user, and reads the reply like WeChat does."""

    client: TestClient
    openid: str = "o-user-1"
    mode: str = "aes"  # aes (safe), compat, plain
    crypto: WeChatCrypto = field(default_factory=lambda: WeChatCrypto(TOKEN, AES_KEY, OA_APP_ID))

    async def post(self, xml: str, *, timestamp: int | None = None):
        if self.mode == "plain":
            query, body = signed_query(TOKEN, timestamp), xml
        else:
            query, body = encrypted_request(self.crypto, TOKEN, xml, ACCOUNT, timestamp)
            if self.mode == "compat":  # compatible mode: plaintext fields beside Encrypt
                encrypt = xmltodict.parse(body)["xml"]["Encrypt"]
                body = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        resp = await self.client.post("/wechat", params=query, data=body.encode())
        return resp, query

    async def say(self, text: str, *, msg_id: int | None = None) -> str | None:
        xml = build_text_xml(self.openid, ACCOUNT, text, msg_id or random.getrandbits(62))
        return await self.send(xml)

    async def send(self, xml: str) -> str | None:
        resp, query = await self.post(xml)
        assert resp.status == 200, await resp.text()
        return reply_content(
            self.crypto if self.mode != "plain" else None, query, await resp.text()
        )

    async def event(
        self, event: str, key: str | None = None, *, created: int | None = None
    ) -> str | None:
        return await self.send(build_event_xml(self.openid, ACCOUNT, event, key, created))


@pytest.fixture
def user(app) -> WeChatUser:
    return WeChatUser(app)


@pytest.fixture
def make_user(app):
    def make(openid: str, mode: str = "aes") -> WeChatUser:
        return WeChatUser(app, openid=openid, mode=mode)

    return make


async def drain_outbox(client: TestClient, rounds: int = 10) -> int:
    """Run the dispatcher until nothing is due (what the background task does)."""
    d = Dispatcher(client.app)
    total = 0
    for _ in range(rounds):
        n = await d.dispatch_once()
        total += n
        if not n:
            break
        await asyncio.sleep(0)
    return total


def app_settings(client: TestClient) -> Settings:
    return client.app[settings_key]
