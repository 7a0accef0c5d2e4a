"""Helpers for the staff console tests (no tests here): sign a browser in the way staff do,
read a form's CSRF token, and another browser with its own cookies."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import aiohttp
from aiohttp.test_utils import TestClient

from tests.conftest import WeChatUser
from tests.test_cases_support import next_created

SCENE = re.compile(r'id="login-scene">([^<]+)<')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def show_login(browser: TestClient | aiohttp.ClientSession, base: str = "") -> str:
    """Open the login page; returns the scene it shows."""
    resp = await browser.get(f"{base}/console/login")
    assert resp.status == 200, await resp.text()
    return SCENE.search(await resp.text()).group(1)


async def scan(client: TestClient, openid: str, scene: str) -> str | None:
    """The SCAN event WeChat sends when `openid` scans the login QR code; returns the reply."""
    return await WeChatUser(client, openid=openid).event("SCAN", scene, created=next_created())


async def sign_in(client: TestClient, openid: str) -> None:
    """The whole desk login: page, scan, poll; `client` keeps the session cookie."""
    scene = await show_login(client)
    assert "已登录工作台" in (await scan(client, openid, scene) or "")
    resp = await client.get("/console/login/poll", params={"scene": scene})
    assert (await resp.json())["status"] == "ok"


async def csrf_of(client: TestClient, path: str = "/console/") -> str:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    return CSRF.search(await resp.text()).group(1)


@asynccontextmanager
async def other_browser(client: TestClient):
    """A second browser (own cookie jar) pointed at the same server."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session, str(client.make_url("")).rstrip("/")
