"""Safe mode cannot be downgraded to plain, and plain mode cannot be replayed with a new body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import create_app
from bot.wechat.protocol import build_text_xml, signed_query
from bot.wechat.replay import purge_plain_nonces
from models.conversation import Conversation
from models.inbound import PlainNonce
from tests.conftest import ACCOUNT, TOKEN, WeChatUser

pytestmark = pytest.mark.db


async def test_plain_post_is_refused_when_safe_mode_is_configured(app, user):
    """The attack: a query string copied from an access log, a body written by the attacker."""
    forged = build_text_xml(user.openid, ACCOUNT, "人工", 31337).encode()
    resp = await app.post("/wechat", params=signed_query(TOKEN), data=forged)
    assert resp.status == 403 and await resp.text() == "plain_refused"
    assert await Conversation.filter(openid=user.openid).count() == 0
    assert "返回" in await user.say("帮助")  # the real, encrypted channel still works
    metrics = await (await app.get("/metrics")).text()
    assert 'wechat_rejected_requests_total{reason="plain_refused"} 1.0' in metrics


async def test_plain_is_accepted_in_the_migration_window(app, aiohttp_client, settings):
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"wechat_allow_plain": True}))
    )
    assert "返回" in await WeChatUser(client, openid="o-mig", mode="plain").say("帮助")
    assert "返回" in await WeChatUser(client, openid="o-mig2", mode="aes").say("帮助")


@pytest.fixture(params=["no_aes_key", "allow_plain"])
async def plain_client(request, app, aiohttp_client, settings):
    update = (
        {"wechat_aes_key": None} if request.param == "no_aes_key" else {"wechat_allow_plain": True}
    )
    return await aiohttp_client(create_app(settings.model_copy(update=update)))


async def test_a_seen_timestamp_and_nonce_with_another_body_is_refused(plain_client):
    query = signed_query(TOKEN)
    real = build_text_xml("o-victim", ACCOUNT, "帮助", 1001).encode()
    assert (await plain_client.post("/wechat", params=query, data=real)).status == 200
    again = await plain_client.post("/wechat", params=query, data=real)
    assert again.status == 200  # WeChat's retry: same body, answered from the dedupe
    forged = build_text_xml("o-victim", ACCOUNT, "人工", 1002).encode()
    resp = await plain_client.post("/wechat", params=query, data=forged)
    assert resp.status == 403 and await resp.text() == "replay"
    other = build_text_xml("o-other", ACCOUNT, "帮助", 1003).encode()
    resp = await plain_client.post("/wechat", params=query, data=other)
    assert resp.status == 403  # another user under the same pair: forged too
    conv = await Conversation.get(openid="o-victim")
    assert conv.flow is None and await Conversation.filter(openid="o-other").count() == 0
    fresh = await plain_client.post("/wechat", params=signed_query(TOKEN), data=forged)
    assert fresh.status == 200  # a new pair is a new delivery


async def test_seen_pairs_are_kept_as_digests_and_purged(plain_client):
    query = signed_query(TOKEN)
    body = build_text_xml("o-p", ACCOUNT, "帮助 13812340000", 2001).encode()
    assert (await plain_client.post("/wechat", params=query, data=body)).status == 200
    row = await PlainNonce.get()
    assert len(row.key) == 64 and len(row.body_hash) == 64 and query["nonce"] not in row.key
    await PlainNonce.filter(key=row.key).update(seen_at=datetime.now(UTC) - timedelta(hours=1))
    await PlainNonce.create(key="f" * 64, body_hash="0" * 64)
    await purge_plain_nonces(plain_client.app, datetime.now(UTC))
    assert [r.key for r in await PlainNonce.all()] == ["f" * 64]


async def test_encrypted_requests_do_not_spend_nonce_rows(user):
    assert "返回" in await user.say("帮助")
    assert await PlainNonce.all().count() == 0
