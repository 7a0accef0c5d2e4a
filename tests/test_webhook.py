"""POST/GET /wechat against WeChat's real protocol vectors, its retries, and hostile input."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

import pytest
import xmltodict
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from bot.app import create_app
from bot.wechat import protocol
from bot.wechat.protocol import (
    ProtocolError,
    build_text_xml,
    check_signature,
    parse,
    render_text_reply,
    sha1_signature,
    signed_query,
)
from models.conversation import Conversation
from models.inbound import InboundMessage
from tests.conftest import ACCOUNT, AES_KEY, OA_APP_ID, TOKEN

FIX = Path(__file__).parent / "fixtures" / "wechat"


@pytest.fixture
def settings(settings):
    """These tests post plain bodies beside safe-mode ones: the migration window's setting."""
    return settings.model_copy(update={"wechat_allow_plain": True})


def vector(name: str) -> dict:
    return json.loads((FIX / name).read_text("utf-8"))


# --- official vectors -------------------------------------------------------------------------


def test_plain_signature_vectors():
    for v in vector("signature/plain_signature_vectors.json")["vectors"]:
        query = {"signature": v["signature"], "timestamp": v["timestamp"], "nonce": v["nonce"]}
        if v["valid"]:
            check_signature(v["token"], query, max_skew=0)
        else:
            with pytest.raises(ProtocolError) as err:
                check_signature(v["token"], query, max_skew=0)
            assert err.value.status == 403


def test_encrypt_known_answers_with_fixed_random(monkeypatch):
    v = vector("crypto/oa_official_java_fixed_random_encrypt.json")
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: v["random16"])
    crypto = WeChatCrypto(v["token"], v["encoding_aes_key"], v["app_id"])
    for case in v["cases"]:
        sealed = xmltodict.parse(
            crypto.encrypt_message(case["plaintext"], v["nonce"], v["timestamp"])
        )["xml"]
        assert sealed["Encrypt"] == case["expected_encrypt"]
        assert sealed["MsgSignature"] == sha1_signature(
            v["token"], v["timestamp"], v["nonce"], case["expected_encrypt"]
        )


@pytest.mark.parametrize(
    "name",
    [
        "oa_official_python_sample.json",
        "oa_official_cpp_sample.json",
        "open_platform_debug_demo_all_A_key.json",
    ],
)
async def test_official_encrypted_samples_are_answered_encrypted(aiohttp_client, settings, name):
    v = vector("crypto/" + name)
    settings = settings.model_copy(
        update={
            "wechat_token": v["token"],
            "wechat_aes_key": v["encoding_aes_key"],
            "wechat_app_id": v["app_id"],
            "wechat_max_clock_skew": 0,
        }
    )
    client = await aiohttp_client(create_app(settings))
    q = v["query"]
    query = {
        "timestamp": q["timestamp"],
        "nonce": q["nonce"],
        "encrypt_type": "aes",
        "msg_signature": q["msg_signature"],
        "signature": sha1_signature(v["token"], q["timestamp"], q["nonce"]),
    }
    resp = await client.post("/wechat", params=query, data=v["post_body"].encode())
    assert resp.status == 200
    reply = xmltodict.parse(await resp.text())["xml"]
    crypto = WeChatCrypto(v["token"], v["encoding_aes_key"], v["app_id"])
    plain = xmltodict.parse(
        crypto.decrypt_message(
            await resp.text(), reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"]
        )
    )["xml"]
    expected = (
        xmltodict.parse(v.get("expected_plaintext") or v["expected"]["plaintext"])["xml"]
        if ("expected_plaintext" in v or "expected" in v)
        else None
    )
    if expected:  # the reply goes back to the sender, from the account
        assert plain["ToUserName"] == expected["FromUserName"]
        assert plain["FromUserName"] == expected["ToUserName"]
    assert plain["MsgType"] == "text" and plain["Content"]


def _sample_xmls() -> list[Path]:
    return sorted((FIX / "messages").rglob("*.xml"))


def test_parser_shapes_every_sample_as_xmltodict_does():
    """wechatpy's message classes read xmltodict's shapes; our faster parser must match them."""
    for path in _sample_xmls():
        body = path.read_bytes()
        doc = xmltodict.parse(body)
        if not isinstance(doc.get("xml"), dict):
            continue
        assert protocol._xml_dict(body) == doc["xml"], path.name


# Pieces of WeChat-like documents, the awkward ones included: what a parser rewrites (\r,
# entities), refuses (control characters, a stray ]]>, <) or shapes differently (attributes,
# repeated tags, nesting, comments, text beside the children).
_TAGS = st.sampled_from(["ToUserName", "Content", "MsgId", "A", "x1", "_t", "a-b", "ns:c", "é"])
_TEXT = st.lists(
    st.sampled_from(
        [*"ab 中文\t\n\r\x01\x0b\x85<>&;]![/", "]]>", "&amp;", "\u3000", "\ufffe", "\U0001f600"]
    ),
    max_size=12,
).map("".join)
_SPACE = st.sampled_from(["", " ", "\n  ", "\r\n", "\t"])


@st.composite
def _wechat_like(draw) -> str:
    children = []
    for _ in range(draw(st.integers(0, 5))):
        tag, text = draw(_TAGS), draw(_TEXT)
        body = draw(
            st.sampled_from(
                [
                    f"<![CDATA[{text}]]>",
                    text,
                    f" <![CDATA[{text}]]>",
                    f"<![CDATA[{text}]]><![CDATA[{text}]]>",
                    f"<b>{text}</b>",
                    f"<!--{text}-->",
                ]
            )
        )
        attrs = draw(st.sampled_from(["", ' k="v"']))
        children.append(draw(_SPACE) + f"<{tag}{attrs}>{body}</{tag}>")
    head = draw(st.sampled_from(["<xml>", " <xml>", '<?xml version="1.0"?><xml>', "<xml >"]))
    tail = draw(st.sampled_from(["</xml>", "</xml>\n", "text</xml>", "</xml><x/>"]))
    return head + "".join(children) + draw(_SPACE) + tail


@hsettings(max_examples=600, deadline=None)
@given(_wechat_like())
def test_fast_path_reads_what_the_parser_reads(text):
    """The flat fast path answers only when the parser would answer the same; else it passes."""
    fast = protocol._flat_dict(text)
    try:
        parsed: dict | None = protocol._parsed_dict(text)
    except protocol.ProtocolError:
        parsed = None
    if fast is not None:
        assert fast == parsed


def test_replies_are_sealed_as_wechatpy_seals_them():
    """protocol.encrypt_reply reuses one PrpCrypto per key instead of wechatpy's one per
    message: the same bytes for the same random padding, and wechatpy opens it."""
    import random

    crypto = WeChatCrypto(TOKEN, AES_KEY, OA_APP_ID)
    xml = "<xml><Content><![CDATA[回复 reply]]></Content></xml>"
    for nonce, timestamp in [("1320562132", "1700000000"), ("n", None)]:
        random.seed(7)
        ours = protocol.encrypt_reply(crypto, xml, nonce, timestamp)
        random.seed(7)
        theirs = crypto.encrypt_message(xml, nonce, timestamp)
        if timestamp:
            assert ours == theirs
        sealed = xmltodict.parse(ours)["xml"]
        opened = crypto.decrypt_message(ours, sealed["MsgSignature"], sealed["TimeStamp"], nonce)
        assert opened == xml


def test_fast_path_takes_wechats_messages():
    """WeChat's messages are flat but for a few events with nested lists (scan codes, photos,
    subscription popups): all the others take the fast path."""
    flat = [p for p in _sample_xmls() if protocol._flat_dict(p.read_text("utf-8")) is not None]
    assert len(flat) > 60


async def test_every_inbound_sample_is_handled_without_error(app):
    oa_cases = {c["file"] for c in vector("messages/oa_inbound_cases.json")["cases"]}
    assert len(_sample_xmls()) > 70
    for path in _sample_xmls():
        body = path.read_bytes()
        resp = await app.post("/wechat", params=signed_query(TOKEN), data=body)
        rel = path.relative_to(FIX / "messages").as_posix()
        if rel in oa_cases:
            assert resp.status == 200, rel
        else:  # WeCom and mini-program samples: answered or refused, never a 5xx
            assert resp.status in (200, 400), rel
    assert (await app.get("/healthz")).status == 200


# --- URL verification -------------------------------------------------------------------------


async def test_get_verification_echoes_only_when_signed(app):
    query = {**signed_query(TOKEN), "echostr": "1616140317555161061"}
    resp = await app.get("/wechat", params=query)
    assert resp.status == 200 and await resp.text() == "1616140317555161061"
    bad = {**query, "signature": "0" * 40}
    assert (await app.get("/wechat", params=bad)).status == 403
    assert (await app.get("/wechat", params={"echostr": "x"})).status == 403


# --- modes and replies ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "compat", "aes"])
async def test_round_trip_in_every_mode(make_user, mode):
    u = make_user("o-mode-" + mode, mode)
    resp, _ = await u.post(build_text_xml(u.openid, ACCOUNT, "帮助", 777))
    text = await resp.text()
    assert resp.status == 200
    root = xmltodict.parse(text)["xml"]
    assert ("Encrypt" in root) == (mode != "plain")
    assert "返回" in await u.say("帮助")


def test_reply_rendering_survives_cdata_terminator():
    inc = parse(build_text_xml("o1", "gh", "hi", 1))
    xml = render_text_reply(inc, "a ]]> b <c>")
    assert xmltodict.parse(xml)["xml"]["Content"] == "a ]]> b <c>"


# --- retries ----------------------------------------------------------------------------------


async def test_retry_changes_nothing_and_gets_the_same_reply(app, user):
    first = await user.say("7", msg_id=424242)  # menu 7 toggles the language
    again = await user.say("7", msg_id=424242)
    assert first == again and "English" in first
    conv = await Conversation.get(openid=user.openid)
    assert conv.locale == "en" and conv.version == 1
    assert await InboundMessage.filter(openid=user.openid).count() == 1
    metrics = await (await app.get("/metrics")).text()
    assert "wechat_duplicate_messages_total 1.0" in metrics


async def test_concurrent_retries_are_handled_once(user):
    replies = await asyncio.gather(*(user.say("7", msg_id=99) for _ in range(4)))
    assert len(set(replies)) == 1
    assert (await Conversation.get(openid=user.openid)).version == 1


async def test_event_retry_deduped_by_sender_time_and_event(user):
    created = int(time.time())
    a = await user.event("subscribe", created=created)
    b = await user.event("subscribe", created=created)
    assert a == b and "欢迎" in a
    assert await InboundMessage.filter(openid=user.openid).count() == 1
    await user.event("subscribe", created=created + 1)
    assert await InboundMessage.filter(openid=user.openid).count() == 2


# --- hostile input ----------------------------------------------------------------------------


async def _post(app, body: bytes, query: dict | None = None):
    return await app.post("/wechat", params=query or signed_query(TOKEN), data=body)


async def test_forged_stale_and_missing_signatures_are_403(app):
    xml = build_text_xml("o-evil", ACCOUNT, "帮助", 5).encode()
    forged = {**signed_query(TOKEN), "signature": "f" * 40}
    assert (await _post(app, xml, forged)).status == 403
    assert (await _post(app, xml, signed_query("wrong-token"))).status == 403
    assert (await _post(app, xml, {"timestamp": str(int(time.time())), "nonce": "1"})).status == 403
    stale = signed_query(TOKEN, timestamp=int(time.time()) - 301)
    assert (await _post(app, xml, stale)).status == 403
    future = signed_query(TOKEN, timestamp=int(time.time()) + 3600)
    assert (await _post(app, xml, future)).status == 403
    assert await Conversation.filter(openid="o-evil").count() == 0


async def test_stale_signature_accepted_when_skew_check_is_off(aiohttp_client, settings):
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"wechat_max_clock_skew": 0}))
    )
    old = signed_query(TOKEN, timestamp=1409735669)
    resp = await client.post(
        "/wechat", params=old, data=build_text_xml("o-old", ACCOUNT, "帮助", 6).encode()
    )
    assert resp.status == 200


async def test_bad_msg_signature_is_403(user):
    resp, query = await user.post(build_text_xml(user.openid, ACCOUNT, "hi", 8))
    assert resp.status == 200
    query = {**query, "msg_signature": "0" * 40}
    resp = await user.client.post(
        "/wechat", params=query, data=b"<xml><Encrypt>abc</Encrypt></xml>"
    )
    assert resp.status == 403


@pytest.mark.parametrize(
    "body",
    [
        # a DOCTYPE the byte check cannot see: entities declared in UTF-16 (with a BOM) or EBCDIC
        (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Content>&b;</Content></xml>'
        ).encode("utf-16"),
        '<?xml version="1.0" encoding="cp037"?><!DOCTYPE x><xml/>'.encode("cp037"),
        b'<?xml version="1.0" encoding="rot13"?><xml/>',  # an encoding expat cannot look up
        b"<xml>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</xml>",  # nesting no WeChat message has
    ],
)
async def test_hostile_encodings_and_nesting_are_400(app, user, body):
    with pytest.raises(protocol.ProtocolError):  # refused by the parser itself, never expanded
        protocol._xml_dict(body)
    assert (await _post(app, body)).status == 400
    assert "返回" in await user.say("帮助")


@pytest.mark.parametrize(
    "body,status",
    [
        (b"", 400),
        (b"not xml at all", 400),
        (b"<xml><Content>unclosed", 400),
        (b"<xml><FromUserName>o1</FromUserName></xml>", 400),  # no MsgType
        (b"<root><MsgType>text</MsgType></root>", 400),
        (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "boom">]><xml>&x;</xml>', 400),
        (b'<!doctype xml SYSTEM "file:///etc/passwd"><xml/>', 400),
        (b"<xml><FromUserName><a>1</a></FromUserName><MsgType>text</MsgType></xml>", 400),
    ],
)
async def test_malformed_bodies_are_400_and_service_continues(app, user, body, status):
    assert (await _post(app, body)).status == status
    assert "返回" in await user.say("帮助")


async def test_doctype_inside_the_encrypted_payload_is_400(app, user):
    evil = '<!DOCTYPE x [<!ENTITY a "b">]>' + build_text_xml(user.openid, ACCOUNT, "&a;", 9)
    resp, _ = await user.post(evil)
    assert resp.status == 400


async def test_garbage_ciphertext_is_400(app):
    q = signed_query(TOKEN)
    encrypt = "bm90IHJlYWxseSBlbmNyeXB0ZWQ="
    q.update(
        encrypt_type="aes", msg_signature=sha1_signature(TOKEN, q["timestamp"], q["nonce"], encrypt)
    )
    resp = await _post(app, f"<xml><Encrypt>{encrypt}</Encrypt></xml>".encode(), q)
    assert resp.status == 400


async def test_oversized_body_is_413(app, user):
    huge = io.BytesIO(b"<xml>" + b"a" * (1 << 20) + b"</xml>")
    assert (await app.post("/wechat", params=signed_query(TOKEN), data=huge)).status == 413

    async def chunks():  # no Content-Length: counted as it arrives
        yield b"<xml>"
        for _ in range(20):
            yield b"a" * 65536
        yield b"</xml>"

    assert (await app.post("/wechat", params=signed_query(TOKEN), data=chunks())).status == 413
    assert "返回" in await user.say("帮助")


# --- message kinds ----------------------------------------------------------------------------


def _xml(openid: str, msg_type: str, inner: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{openid}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{msg_type}</MsgType>{inner}"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


@pytest.mark.parametrize(
    "msg_type,inner,expect",
    [
        ("image", "<PicUrl>http://x/y.jpg</PicUrl><MediaId>m1</MediaId>", "图片"),
        ("voice", "<MediaId>m2</MediaId><Format>amr</Format>", "语音"),
        ("video", "<MediaId>m3</MediaId><ThumbMediaId>t</ThumbMediaId>", "视频"),
        (
            "location",
            "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale>"
            "<Label>某地</Label>",
            "位置",
        ),
        ("link", "<Title>t</Title><Description>d</Description><Url>http://x</Url>", "链接"),
        ("miniprogrampage", "<Title>t</Title>", "这种消息"),
    ],
)
async def test_other_message_kinds_get_a_polite_reply(user, msg_type, inner, expect):
    reply = await user.send(_xml(user.openid, msg_type, inner, 1000 + len(msg_type)))
    assert expect in reply


async def test_voice_recognition_is_treated_as_text(user):
    reply = await user.send(
        _xml(
            user.openid,
            "voice",
            "<MediaId>m</MediaId><Format>amr</Format><Recognition>帮助。</Recognition>",
            31,
        )
    )
    assert "使用说明" in reply


# --- operations endpoints ---------------------------------------------------------------------


async def test_metrics_expose_inbound_duplicates_replies_errors_and_latency(app, user):
    await user.say("帮助")
    await _post(app, b"junk")
    text = await (await app.get("/metrics")).text()
    assert 'wechat_inbound_messages_total{type="text"} 1.0' in text
    assert "wechat_duplicate_messages_total" in text
    assert 'wechat_replies_total{kind="text"}' in text
    assert 'wechat_rejected_requests_total{reason="not_xml"}' in text
    assert "bot_errors_total" in text or "wechat_webhook_seconds_bucket" in text
    assert "wechat_webhook_seconds_bucket" in text
    assert 'outbox_rows{status="pending"}' in text


async def test_healthz(app):
    resp = await app.get("/healthz")
    assert resp.status == 200 and (await resp.json())["database"] == "ok"
