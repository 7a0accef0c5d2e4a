"""pytest plugin: fixtures for the fake WeChat API server and the fake centre records system.

Load with `pytest_plugins = ["tests.fakes_plugin"]` in tests/conftest.py (or `-p tests.fakes_plugin`).

    fake_wechat   a started FakeWeChat (`.url`, `.calls`, `.fail_next(...)`, `.api_kwargs()`,
                  `.settings_kwargs()`, `.wecom_url`); see tests/fake_wechat.py
    fake_center   a started FakeCenter (`.url`, `.secret`, `.received`, `.fail_next(...)`)
    http_session  an aiohttp.ClientSession, closed after the test
    wechat_api    a WeChatAPI pointed at fake_wechat, with the fake's app ids and secrets
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.wechat.api import WeChatAPI
from tests.fake_wechat import FakeCenter, FakeWeChat


@pytest.fixture
async def fake_wechat() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat() as fake:
        yield fake


@pytest.fixture
async def fake_center() -> AsyncIterator[FakeCenter]:
    async with FakeCenter() as center:
        yield center


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def wechat_api(fake_wechat: FakeWeChat, http_session: aiohttp.ClientSession) -> WeChatAPI:
    return WeChatAPI(http_session, **fake_wechat.api_kwargs())
