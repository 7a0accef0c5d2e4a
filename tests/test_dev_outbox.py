"""/dev/outbox serves pushes only to a developer on this machine, never in production."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.app import create_app
from bot.clientaddr import is_loopback_request
from handlers import system
from models.outbox import OutboxMessage

pytestmark = pytest.mark.db


@pytest.fixture
async def dev_client(app, aiohttp_client, settings):
    """Development without an app secret: pushes stay in the outbox for `bot chat`."""
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"wechat_app_secret": None}))
    )
    await OutboxMessage.create(
        channel="wechat_text",
        recipient="o-dev",
        dedupe_key="dev-1",
        payload={"text": "您的申请已受理"},
        status="sent",
        next_attempt_at=datetime.now(UTC),
    )
    return client


def _from(peer: str, app: web.Application, headers: dict[str, str] | None = None) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    return make_mocked_request(
        "GET", "/dev/outbox?openid=o-dev", headers=headers or {}, app=app, transport=transport
    )


async def test_a_local_developer_sees_pushes(dev_client):
    resp = await dev_client.get("/dev/outbox", params={"openid": "o-dev"})
    assert resp.status == 200
    assert [i["text"] for i in (await resp.json())["items"]] == ["您的申请已受理"]


async def test_requests_through_a_proxy_on_this_machine_get_404(dev_client):
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        resp = await dev_client.get(
            "/dev/outbox", params={"openid": "o-dev"}, headers={header: "203.0.113.5"}
        )
        assert resp.status == 404, header


async def test_remote_clients_get_404(dev_client):
    for peer in ("203.0.113.5", "10.0.0.8", "2001:db8::1"):
        with pytest.raises(web.HTTPNotFound):
            await system.dev_outbox(_from(peer, dev_client.app))
    assert is_loopback_request(_from("::1", dev_client.app))
    assert is_loopback_request(_from("::ffff:127.0.0.1", dev_client.app))
    assert not is_loopback_request(_from("::ffff:192.0.2.1", dev_client.app))


async def test_never_in_production(app, aiohttp_client, settings):
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"env": "production", "wechat_app_secret": None}))
    )
    assert (await client.get("/dev/outbox", params={"openid": "o-dev"})).status == 404


async def test_not_with_a_real_app_secret(app):
    assert (await app.get("/dev/outbox", params={"openid": "o-dev"})).status == 404
