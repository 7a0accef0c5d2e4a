"""BOT_TRUSTED_PROXIES: forwarding headers count only from our own proxies; bucket keys bounded."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import create_app
from bot.clientaddr import forwarded_client, parse_networks
from bot.ratelimit import bucket_key, purge_buckets
from bot.settings import Settings
from models.ratelimit import RateBucket
from tests.rawhttp import raw_request

pytestmark = pytest.mark.db


async def _client(aiohttp_client, settings, **update):
    return await aiohttp_client(
        create_app(settings.model_copy(update={"login_rate_limit": 3, **update}))
    )


async def _login(client, fake_wechat, n: int, xff: str | None = None) -> int:
    fake_wechat.add_code(f"tp-{n}", openid=f"o-tp-{n}")
    headers = {"X-Forwarded-For": xff} if xff else {}
    resp = await client.post("/api/v1/auth/wxa-login", json={"code": f"tp-{n}"}, headers=headers)
    return resp.status


async def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(
    app, aiohttp_client, settings, fake_wechat
):
    client = await _client(aiohttp_client, settings)
    statuses = [await _login(client, fake_wechat, i, f"198.51.100.{i}") for i in range(6)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429, 429]  # one peer, one bucket, whatever it claims
    assert len(fake_wechat.calls_to("sns/jscode2session")) == 3


async def test_forwarded_for_counts_from_a_trusted_proxy(
    app, aiohttp_client, settings, fake_wechat
):
    client = await _client(aiohttp_client, settings, trusted_proxies="127.0.0.1/32")
    for i in range(3):
        assert await _login(client, fake_wechat, i, "203.0.113.7") == 200
    assert await _login(client, fake_wechat, 3, "203.0.113.7") == 429
    # a client padding the header cannot escape: the hop our proxy appended is the last one
    assert await _login(client, fake_wechat, 4, "10.9.9.9, 203.0.113.7") == 429
    assert await _login(client, fake_wechat, 5, "203.0.113.8") == 200
    keys = {b.key for b in await RateBucket.all()}
    assert keys == {"login:203.0.113.7", "login:203.0.113.8"}


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
@pytest.mark.parametrize(
    "xff",
    [
        b"1" * 300,
        "\u4e2d\u6587".encode(),
        b"\xff\xfe",
        b"2001:db8::1%" + b"z" * 200,
        b", , ,",
        b"::ffff:1.2.3.4",
    ],
)
async def test_hostile_forwarded_for_is_not_a_server_error(
    app, aiohttp_client, settings, fake_wechat, trusted, xff
):
    client = await _client(aiohttp_client, settings, trusted_proxies=trusted)
    fake_wechat.add_code("tp-raw", openid="o-tp-raw")
    resp = await raw_request(
        client,
        "POST",
        "/api/v1/auth/wxa-login",
        headers={"Content-Type": "application/json", "X-Forwarded-For": xff},
        parts=[b'{"code": "tp-raw"}'],
    )
    assert resp.status == 200, resp.body
    for bucket in await RateBucket.all():
        assert len(bucket.key) <= 128 and bucket.key.isascii()


def test_forwarded_chain_is_walked_from_the_right_over_trusted_hops():
    nets = parse_networks("127.0.0.1, 10.0.0.0/8")
    peer = ipaddress.ip_address("127.0.0.1")

    def who(header: str) -> str:
        return str(forwarded_client(peer, header, nets))

    assert who("203.0.113.5") == "203.0.113.5"
    assert who("6.6.6.6, 203.0.113.5, 10.1.2.3") == "203.0.113.5"  # two proxies of ours
    assert who("junk, 10.1.2.3") == "10.1.2.3"  # garbage stops at the last trusted hop
    assert who("10.0.0.1, 10.0.0.2") == "10.0.0.1"
    assert (
        str(forwarded_client(ipaddress.ip_address("192.0.2.1"), "1.1.1.1", nets)) == "192.0.2.1"
    )  # an untrusted peer's header means nothing


def test_bucket_keys_are_bounded_and_ipv6_is_grouped_by_64():
    from bot.clientaddr import normalize

    assert normalize(ipaddress.ip_address("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
    assert normalize(ipaddress.ip_address("::ffff:192.0.2.4")) == "192.0.2.4"
    long = bucket_key("login", "x" * 500)
    assert len(long) <= 128 and long.startswith("login:sha256:")
    assert bucket_key("login", "\u4e2d").isascii()


def test_a_mistyped_proxy_list_stops_start_up():
    with pytest.raises(ValueError):
        Settings(_env_file=None, trusted_proxies="127.0.0.1, nginx")
    assert Settings(_env_file=None, trusted_proxies=" 127.0.0.1 , ::1/128").trusted_proxies


async def test_old_buckets_are_purged(app):
    now = datetime.now(UTC)
    await RateBucket.create(key="login:192.0.2.1", window_start=now - timedelta(hours=2))
    await RateBucket.create(key="login:192.0.2.2", window_start=now - timedelta(seconds=30))
    await purge_buckets(app.app, now)
    assert [b.key for b in await RateBucket.all()] == ["login:192.0.2.2"]
