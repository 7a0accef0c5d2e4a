"""Fuzzing the webhook's verify/decrypt/parse path and the flow engine with hypothesis.

Properties: never a 5xx, never an unhandled exception, and the user's state is always valid
(no flow, or a registered flow at one of its own steps), whatever arrives in whatever order.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import flowkit
from bot.wechat.protocol import (
    ProtocolError,
    build_event_xml,
    build_text_xml,
    check_signature,
    parse,
    sha1_signature,
    signed_query,
)
from models.conversation import Conversation
from tests.conftest import ACCOUNT, TOKEN, WeChatUser

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event",
          "EventKey", "Recognition", "MediaId", "PicUrl", "Location_X", "Label", "Encrypt"]
MSG_TYPES = ["text", "image", "voice", "video", "shortvideo", "location", "link", "event",
             "miniprogrampage", "", "TEXT", "unknown"]


@pytest.fixture(name="settings")
def plain_allowed(settings):
    """Plain bodies reach the parser (the migration window's setting) so it is fuzzed too."""
    return settings.model_copy(update={"wechat_allow_plain": True})


text_values = st.one_of(st.text(max_size=40), st.sampled_from(MSG_TYPES),
                        st.integers().map(str), st.just("<x>1</x>"))


@st.composite
def wechat_like_xml(draw) -> bytes:
    """Documents shaped like WeChat's, with random fields, values, nesting and junk."""
    parts = []
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=8)):
        value = draw(text_values)
        if value.startswith("<x>"):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value.replace(']]>', '')}]]></{name}>")
    body = "<xml>" + "".join(parts) + "</xml>"
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]  # truncated
    return body.encode("utf-8")


@given(st.one_of(st.binary(max_size=300), wechat_like_xml()))
@FUZZ
def test_parse_returns_a_message_or_a_protocol_error(body):
    try:
        inc = parse(body)
    except ProtocolError as exc:
        assert exc.status == 400
    else:
        assert inc.openid and inc.kind


@given(st.dictionaries(st.sampled_from(["signature", "timestamp", "nonce", "x"]),
                       st.text(max_size=50), max_size=4), st.integers(0, 10**6))
@FUZZ
def test_signature_check_fails_closed(query, skew):
    try:
        check_signature(TOKEN, query, max_skew=skew)
    except ProtocolError as exc:
        assert exc.status == 403
    else:  # only a correct signature can pass
        assert query["signature"] == sha1_signature(TOKEN, query.get("timestamp", ""),
                                                    query.get("nonce", ""))


@given(body=st.one_of(st.binary(max_size=400), wechat_like_xml()),
       encrypted=st.booleans(), envelope=st.text(max_size=60))
@FUZZ
async def test_webhook_never_answers_5xx(app, body, encrypted, envelope):
    query = signed_query(TOKEN)
    if encrypted:
        query.update(encrypt_type="aes", msg_signature=sha1_signature(
            TOKEN, query["timestamp"], query["nonce"], envelope))
        body = f"<xml><Encrypt><![CDATA[{envelope}]]></Encrypt></xml>".encode() \
            if body[:1] == b"<" else body
    resp = await app.post("/wechat", params=query, data=body)
    assert resp.status in (200, 400, 403), await resp.text()


# What a user can type: any printable text (XML cannot carry control characters, and WeChat
# never sends them).
typed = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
WORDS = ["菜单", "帮助", "取消", "返回", "上一步", "人工", "中文", "English", "继续", "0", "1", "2",
         "3", "7", "9", "投诉", "是", "否", "绑定 ABC", "查询投诉 T1", "接 1", "结束", "", "  "]
EVENTS = [("subscribe", None), ("unsubscribe", None), ("SCAN", "cb:nope"), ("SCAN", "zz"),
          ("subscribe", "qrscene_cb:x"), ("CLICK", "HELP"), ("CLICK", "complaint"),
          ("VIEW", "http://x"), ("LOCATION", None)]
actions = st.lists(st.one_of(
    st.sampled_from(WORDS).map(lambda w: ("text", w)),
    typed.map(lambda w: ("text", w)),
    st.sampled_from(EVENTS).map(lambda e: ("event", e)),
), min_size=1, max_size=12)


@given(steps=actions)
@FUZZ
async def test_random_conversations_keep_state_valid(app, steps):
    user = WeChatUser(app, openid="o-fuzz")
    created = int(time.time())
    for i, (kind, value) in enumerate(steps):
        if kind == "text":
            xml = build_text_xml(user.openid, ACCOUNT, value or " ", 10**15 + created * 100 + i)
        else:
            event, key = value
            xml = build_event_xml(user.openid, ACCOUNT, event, key, created=created + i)
        resp, _ = await user.post(xml)
        assert resp.status == 200, await resp.text()
        conv = await Conversation.get(openid=user.openid)
        if conv.flow is not None:
            flow = flowkit.FLOWS.get(conv.flow)
            assert flow is not None and flow.step(conv.step) is not None, (conv.flow, conv.step)
        if conv.paused:
            assert conv.paused.get("flow") in flowkit.FLOWS
    assert (await app.get("/healthz")).status == 200
