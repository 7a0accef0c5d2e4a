"""The outbound clients (bot.wechat.api, bot.push) against the fake WeChat server and centre."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.push import (
    HEADER_EVENT,
    HEADER_EVENT_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WebhookError,
    post_signed_webhook,
    send_wecom_markdown,
    verify_signature,
)
from bot.wechat.api import (
    ERR_CONNECTION,
    ERR_HTTP_TRANSIENT,
    ERR_TIMEOUT,
    ERR_TOO_LARGE,
    WeChatAPI,
    WeChatAPIError,
)
from tests.fake_wechat import (
    CENTER_SECRET,
    OA_APP_ID,
    OA_SECRET,
    WXA_APP_ID,
    FakeCenter,
    FakeWeChat,
)

OPENID = "oUser1234567890"


# ---- access token -----------------------------------------------------------------------------


async def test_token_fetched_once_for_concurrent_calls(
    fake_wechat: FakeWeChat, wechat_api: WeChatAPI
):
    fake_wechat.delay_next("stable_token", 0.1)  # keep the first fetch in flight while others queue
    await asyncio.gather(*(wechat_api.send_text(OPENID, f"hi {i}") for i in range(10)))

    fetches = fake_wechat.calls_to("stable_token")
    assert len(fetches) == 1
    assert fetches[0].body == {
        "grant_type": "client_credential",
        "appid": OA_APP_ID,
        "secret": OA_SECRET,
        "force_refresh": False,
    }
    sends = fake_wechat.calls_to("message/custom/send")
    assert len(sends) == 10
    assert len({c.query["access_token"] for c in sends}) == 1


async def test_cached_token_reused_and_force_refetches(
    fake_wechat: FakeWeChat, wechat_api: WeChatAPI
):
    first = await wechat_api.access_token()
    assert await wechat_api.access_token() == first
    assert len(fake_wechat.calls_to("stable_token")) == 1
    assert await wechat_api.access_token(force=True) == first  # stable_token: same token again
    assert len(fake_wechat.calls_to("stable_token")) == 2


@pytest.mark.parametrize("errcode", [42001, 40001])
async def test_expired_token_refetched_and_call_retried_once(
    fake_wechat: FakeWeChat, wechat_api: WeChatAPI, errcode: int
):
    await wechat_api.send_text(OPENID, "one")
    fake_wechat.expire_tokens(errcode)
    await wechat_api.send_text(OPENID, "two")

    assert [c.path for c in fake_wechat.calls] == [
        "stable_token",
        "message/custom/send",
        "message/custom/send",
        "stable_token",
        "message/custom/send",
    ]
    sends = fake_wechat.calls_to("message/custom/send")
    assert sends[1].query["access_token"] == sends[0].query["access_token"]
    assert sends[2].query["access_token"] != sends[1].query["access_token"]
    assert sends[2].body["text"]["content"] == "two"


async def test_token_error_twice_gives_up_after_one_retry(
    fake_wechat: FakeWeChat, wechat_api: WeChatAPI
):
    fake_wechat.fail_next("message/custom/send", errcode=40001, times=2)
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.send_text(OPENID, "hi")
    assert err.value.token_invalid and err.value.retryable
    assert len(fake_wechat.calls_to("message/custom/send")) == 2
    assert len(fake_wechat.calls_to("stable_token")) == 2


async def test_token_fetch_failure_and_missing_config(fake_wechat: FakeWeChat, http_session):
    api = WeChatAPI(http_session, base_url=fake_wechat.url, app_id=OA_APP_ID, app_secret="wrong")
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text(OPENID, "hi")
    assert err.value.errcode == 40125 and err.value.permanent and err.value.config_error
    assert fake_wechat.calls_to("message/custom/send") == []

    api = WeChatAPI(http_session, base_url=fake_wechat.url, app_id=OA_APP_ID, app_secret=OA_SECRET)
    with pytest.raises(WeChatAPIError) as err:
        await api.jscode2session("code")  # no mini-program configured
    assert err.value.permanent and err.value.config_error


# ---- error classification ---------------------------------------------------------------------


async def test_43101_is_permanent(fake_wechat: FakeWeChat, wechat_api: WeChatAPI):
    fake_wechat.fail_next("cgi-bin/message/subscribe/send", errcode=43101)
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.send_subscribe(OPENID, "TPL", {"thing1": "x"})
    assert err.value.errcode == 43101
    assert err.value.permanent and not err.value.retryable and not err.value.outside_window
    assert err.value.errmsg.startswith("user refuse to accept the msg")


async def test_45015_is_outside_window(fake_wechat: FakeWeChat, wechat_api: WeChatAPI):
    fake_wechat.fail_next("message/custom/send", errcode=45015)
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.send_text(OPENID, "hi")
    assert err.value.outside_window and err.value.permanent


@pytest.mark.parametrize("errcode", [-1, 45009, 45011])
async def test_busy_and_rate_limits_are_retryable(
    fake_wechat: FakeWeChat, wechat_api: WeChatAPI, errcode
):
    fake_wechat.fail_next("message/custom/send", errcode=errcode)
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.send_text(OPENID, "hi")
    assert err.value.errcode == errcode and err.value.retryable and not err.value.permanent
    await wechat_api.send_text(OPENID, "hi")  # the script is used up: the next one goes through


async def test_http_502_is_retryable(fake_wechat: FakeWeChat, wechat_api: WeChatAPI):
    fake_wechat.http_error_next("message/custom/send", status=502)
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.send_text(OPENID, "hi")
    assert err.value.errcode == ERR_HTTP_TRANSIENT and err.value.http_status == 502
    assert err.value.retryable


async def test_timeout_is_retryable(fake_wechat: FakeWeChat, http_session):
    api = WeChatAPI(http_session, **fake_wechat.api_kwargs(), timeout=0.2)
    await api.access_token()
    fake_wechat.delay_next("message/custom/send", 5)
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text(OPENID, "hi")
    assert err.value.errcode == ERR_TIMEOUT and err.value.retryable


async def test_connection_refused_is_retryable(http_session):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = WeChatAPI(
        http_session, base_url=f"http://127.0.0.1:{port}", app_id=OA_APP_ID, app_secret=OA_SECRET
    )
    with pytest.raises(WeChatAPIError) as err:
        await api.send_text(OPENID, "hi")
    assert err.value.errcode == ERR_CONNECTION and err.value.retryable


# ---- the calls --------------------------------------------------------------------------------


async def test_template_carries_client_msg_id(fake_wechat: FakeWeChat, wechat_api: WeChatAPI):
    result = await wechat_api.send_template(
        OPENID,
        "TPL",
        {"thing1": "申请已受理", "time2": {"value": "2026-11-22"}},
        url="https://example.org/a",
        client_msg_id="outbox-42",
    )
    again = await wechat_api.send_template(
        OPENID, "TPL", {"thing1": "x"}, client_msg_id="outbox-42"
    )
    assert result["msgid"] == again["msgid"]
    body = fake_wechat.bodies("message/template/send")[0]
    assert body == {
        "touser": OPENID,
        "template_id": "TPL",
        "url": "https://example.org/a",
        "client_msg_id": "outbox-42",
        "data": {"thing1": {"value": "申请已受理"}, "time2": {"value": "2026-11-22"}},
    }


async def test_subscribe_uses_the_mini_program_token(
    fake_wechat: FakeWeChat, wechat_api: WeChatAPI
):
    result = await wechat_api.send_subscribe(
        OPENID, "TPL", {"thing1": "x"}, page="pages/index", miniprogram_state="developer"
    )
    assert result["msgid"] > 2**53
    fetched_for = [c.body["appid"] for c in fake_wechat.calls_to("stable_token")]
    assert fetched_for == [WXA_APP_ID]
    body = fake_wechat.bodies("message/subscribe/send")[0]
    assert body["page"] == "pages/index" and body["miniprogram_state"] == "developer"


async def test_qrcode_returns_qr_url(fake_wechat: FakeWeChat, wechat_api: WeChatAPI):
    result = await wechat_api.create_qrcode("agent:7", 3600)
    assert fake_wechat.bodies("qrcode/create")[0] == {
        "expire_seconds": 3600,
        "action_name": "QR_STR_SCENE",
        "action_info": {"scene": {"scene_str": "agent:7"}},
    }
    assert result["expire_seconds"] == 3600 and result["url"].startswith("http://weixin.qq.com/q/")
    qr = urlsplit(result["qr_url"])
    assert (qr.scheme, qr.netloc, qr.path) == ("https", "mp.weixin.qq.com", "/cgi-bin/showqrcode")
    assert parse_qs(qr.query)["ticket"] == [result["ticket"]]
    assert fake_wechat.qrcodes[result["ticket"]] == "agent:7"
    with pytest.raises(ValueError):
        await wechat_api.create_qrcode("x" * 65, 60)


async def test_jscode2session(fake_wechat: FakeWeChat, wechat_api: WeChatAPI):
    fake_wechat.add_code("code1", openid="o-agent-1", unionid="u-1")
    result = await wechat_api.jscode2session("code1")
    assert result["openid"] == "o-agent-1" and result["unionid"] == "u-1" and result["session_key"]
    assert fake_wechat.calls_to("sns/jscode2session")[0].query == {
        "appid": WXA_APP_ID,
        "secret": "fake-wxa-secret",
        "js_code": "code1",
        "grant_type": "authorization_code",
    }
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.jscode2session("code1")  # single-use
    assert err.value.errcode == 40029 and err.value.permanent


@pytest.mark.parametrize(("errcode", "retryable"), [(40029, False), (45011, True), (-1, True)])
async def test_jscode2session_errcodes(
    fake_wechat: FakeWeChat, wechat_api: WeChatAPI, errcode, retryable
):
    fake_wechat.add_code("code1", openid="o-agent-1")
    fake_wechat.fail_next("sns/jscode2session", errcode=errcode)
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.jscode2session("code1")
    assert err.value.errcode == errcode and err.value.retryable is retryable


async def test_logs_carry_no_secrets(fake_wechat: FakeWeChat, wechat_api: WeChatAPI, caplog):
    caplog.set_level(logging.DEBUG)
    fake_wechat.add_code("code1", openid="o-agent-1", session_key="SESSION-KEY-xyz")
    fake_wechat.fail_next("message/custom/send", errcode=45015)
    await wechat_api.jscode2session("code1")
    with pytest.raises(WeChatAPIError):
        await wechat_api.send_text(OPENID, "秘密内容 secret content")
    token = await wechat_api.access_token()
    for secret in (
        token,
        OA_SECRET,
        "fake-wxa-secret",
        "SESSION-KEY-xyz",
        "secret content",
        OPENID,
    ):
        assert secret not in caplog.text
    assert "oUse…" in caplog.text and "45015" in caplog.text


# ---- WeCom robot and the centre webhook -------------------------------------------------------


async def test_wecom_markdown_arrives(fake_wechat: FakeWeChat, http_session):
    await send_wecom_markdown(http_session, fake_wechat.wecom_url, "**新申请** 3 件")
    call = fake_wechat.calls_to("webhook/send")[0]
    assert call.body == {"msgtype": "markdown", "markdown": {"content": "**新申请** 3 件"}}

    await send_wecom_markdown(http_session, fake_wechat.wecom_url, "长" * 3000)  # 9000 bytes: cut
    assert len(fake_wechat.bodies("webhook/send")[1]["markdown"]["content"].encode()) <= 4096

    with pytest.raises(WeChatAPIError) as err:
        await send_wecom_markdown(
            http_session, f"{fake_wechat.url}/cgi-bin/webhook/send?key=bad", "x"
        )
    assert err.value.errcode == 93000 and err.value.permanent


async def test_signed_webhook_verifies(fake_center: FakeCenter, http_session):
    body = json.dumps({"application": 42, "decision": "approved"}).encode()
    await post_signed_webhook(
        http_session,
        fake_center.url + "/events",
        CENTER_SECRET,
        "evt-1",
        "application.decided",
        body,
    )
    (got,) = fake_center.received
    headers = got.headers
    assert got.body == body and headers["Content-Type"] == "application/json"
    assert headers[HEADER_EVENT_ID] == "evt-1" and headers[HEADER_EVENT] == "application.decided"
    ts = headers[HEADER_TIMESTAMP]
    assert abs(int(ts) - time.time()) < 5
    expected = hmac.new(
        CENTER_SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert headers[HEADER_SIGNATURE] == f"sha256={expected}"

    assert verify_signature(CENTER_SECRET, ts, body, headers[HEADER_SIGNATURE])
    assert not verify_signature(CENTER_SECRET, ts, body + b" ", headers[HEADER_SIGNATURE])
    assert not verify_signature(CENTER_SECRET, int(ts) + 1, body, headers[HEADER_SIGNATURE])
    assert not verify_signature("other", ts, body, headers[HEADER_SIGNATURE])
    assert not verify_signature(CENTER_SECRET, ts, body, None)
    assert not verify_signature(CENTER_SECRET, "soon", body, headers[HEADER_SIGNATURE])
    assert not verify_signature(
        CENTER_SECRET, ts, body, headers[HEADER_SIGNATURE], now=int(ts) + 301
    )


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(503, True), (500, True), (429, True), (408, True), (400, False), (404, False)],
)
async def test_signed_webhook_failures(fake_center: FakeCenter, http_session, status, retryable):
    fake_center.fail_next(1, status=status)
    with pytest.raises(WebhookError) as err:
        await post_signed_webhook(http_session, fake_center.url, CENTER_SECRET, "e", "t", b"{}")
    assert err.value.status == status and err.value.retryable is retryable
    await post_signed_webhook(http_session, fake_center.url, CENTER_SECRET, "e", "t", b"{}")
    assert len(fake_center.calls) == 2 and len(fake_center.received) == 1


async def test_signed_webhook_wrong_secret_and_unreachable(fake_center: FakeCenter, http_session):
    with pytest.raises(WebhookError) as err:
        await post_signed_webhook(http_session, fake_center.url, "wrong", "e", "t", b"{}")
    assert err.value.status == 401 and err.value.permanent

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WebhookError) as err:
        await post_signed_webhook(http_session, f"http://127.0.0.1:{port}/", "s", "e", "t", b"{}")
    assert err.value.retryable


async def test_fixture_sessions_close_cleanly():
    # The fakes start and stop on their own, too (for tests that need two of them).
    async with FakeWeChat() as fake, aiohttp.ClientSession() as session:
        api = WeChatAPI(session, **fake.api_kwargs())
        assert (await api.send_text(OPENID, "hi"))["errcode"] == 0


# ---- media ------------------------------------------------------------------------------------


async def test_media_download_with_a_token_refresh_and_its_errors(
    fake_wechat: FakeWeChat, wechat_api: WeChatAPI
):
    photo = b"\xff\xd8\xff\xe0" + b"\x01" * 5000
    fake_wechat.add_media("m1", photo)
    assert await wechat_api.get_media("m1", max_bytes=10_000) == (photo, "image/jpeg")
    fake_wechat.expire_tokens()
    assert (await wechat_api.get_media("m1", max_bytes=10_000))[0] == photo  # new token, once
    assert [c.path for c in fake_wechat.calls].count("stable_token") == 2

    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.get_media("m1", max_bytes=1000)
    assert err.value.errcode == ERR_TOO_LARGE and err.value.permanent
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.get_media("older-than-3-days", max_bytes=10_000)
    assert err.value.errcode == 40007 and err.value.permanent
    fake_wechat.http_error_next("cgi-bin/media/get", 502)
    with pytest.raises(WeChatAPIError) as err:
        await wechat_api.get_media("m1", max_bytes=10_000)
    assert err.value.errcode == ERR_HTTP_TRANSIENT and err.value.retryable
