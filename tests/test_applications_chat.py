"""The chat flow `agent_filing`: an agent files step by step in the official account."""

from __future__ import annotations

import random
import time

from bot.conversation import handle_batch
from bot.wechat.protocol import parse
from handlers.flows.agent_filing import date_example
from i18n import t
from models.application import Application, Material
from models.calendar import local_today
from models.conversation import Conversation
from tests.applications_support import agent_token, file, new_agent
from tests.conftest import ACCOUNT, drain_outbox

OLD_ID = "11010519491231002X"  # born 1949: old enough for any age-based group


def image_xml(openid: str, media_id: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/{media_id}]]></PicUrl>"
        f"<MediaId><![CDATA[{media_id}]]></MediaId>"
        f"<MsgId>{random.getrandbits(62)}</MsgId></xml>"
    )


async def bound_user(make_user, openid: str = "o-oa-agent"):
    agent, code = await new_agent()
    u = make_user(openid)
    assert "绑定成功" in await u.say(f"绑定 {code}")
    return u, agent


async def start_filing(u) -> None:
    reply = await u.say("1")  # menu entry 1: file an application
    assert "代办人 王五" in reply
    assert "事项" in await u.say("1")


async def file_up_to_materials(u) -> None:
    """A domestic-violence matter, answered up to the materials step."""
    await start_filing(u)
    for answer in [
        "15",
        "李四",
        OLD_ID,
        "13812345678",
        "东浦村",
        "遭受家庭暴力，请求离婚并赔偿。",
        "无",
        "无",
    ]:
        await u.say(answer)


async def test_agent_files_in_chat_end_to_end(app, make_user, fake_wechat):
    u, agent = await bound_user(make_user)
    await start_filing(u)
    assert "姓名" in await u.say("4")  # support_payment
    assert "身份证号码" in await u.say("张三丰")
    assert "逐位核对" in await u.say("110105194912310021")  # any digit may be wrong: re-asked
    assert "手机号码" in await u.say(OLD_ID.lower())  # lower-case x is fine
    assert "身份证号码" in await u.say("返回")  # back goes to the ID step
    assert "手机号码" in await u.say(OLD_ID)
    assert "11位" in await u.say("12345")
    assert "住址" in await u.say("+86 138 1234 5678")
    assert "案情" in await u.say("东浦村3组")
    assert "对方当事人" in await u.say("儿子三年未给付赡养费，请求给付赡养费。")
    reply = await u.say("张小明")
    assert "届满" in reply
    example = date_example(local_today())
    assert example > local_today() and example.isoformat() in reply  # never a past example
    assert "格式不对" in await u.say("2026/13/40")
    reply = await u.say("无")
    assert "1. 免予核查经济困难状况" in reply and "2. 个人诚信承诺" in reply
    assert "几口人" in await u.say("2")
    assert "月总收入" in await u.say("2")
    assert "收入来源" in await u.say("800元")
    assert "主要财产" in await u.say("务农")
    reply = await u.say("无")
    assert "法律援助经济困难状况承诺书" in reply and "第六十四条" in reply
    assert "责令其支付已实施法律援助的费用，并处三千元以下罚款" in reply
    assert "确认了承诺" in await u.say("1")
    assert "承诺书" in await u.say("2")  # fingerprint: a photo of the pledge is asked for
    assert "纸质留存" in await u.say("好的")  # neither a photo nor the paper: re-asked
    reply = await u.send(image_xml(u.openid, "pledge-1"))
    assert "已收到承诺书照片" in reply
    assert "材料清单" in reply and "2. 经济困难状况说明" in reply
    assert "已收到第 1 张" in await u.send(image_xml(u.openid, "media-1"))
    reply = await u.say("2")  # the hardship statement is owed
    assert "一次性告知" in reply and "经济困难状况说明" in reply
    summary = await u.say("1")
    assert "110105********002X" in summary and "138****5678" in summary and "张*丰" in summary
    assert OLD_ID not in summary and "13812345678" not in summary
    assert "本人按指印，承诺书照片已收到" in summary
    done = await u.say("1")
    row = await Application.get(agent_id=agent.id)
    assert f"#{row.id}" in done and row.decision_due.isoformat() in done
    assert row.channel == "chat" and row.applicant_id_number == OLD_ID
    assert row.applicant_phone == "13812345678" and row.hardship_basis == "pledge"
    assert row.statement == {
        "household_size": 2,
        "monthly_income_yuan": 800,
        "income_source": "务农",
        "assets": "无",
    }
    assert row.pledge["confirmed_by"] == "fingerprint" and row.missing_acknowledged_at
    materials = await Material.filter(application_id=row.id).order_by("id")
    assert [(m.kind, m.status, m.source) for m in materials] == [
        ("id_document", "provided", "declared"),
        ("hardship_statement", "missing", "declared"),
        ("matter_evidence", "provided", "declared"),
        ("hardship_statement", "provided", "chat"),
        ("other", "provided", "chat"),
    ]
    assert materials[3].wechat_media_id == "pledge-1" and row.pledge["record"] == "photo"
    assert materials[-1].wechat_media_id == "media-1"
    conv = await Conversation.get(openid=u.openid)
    assert conv.flow is None and conv.data == {}


def test_date_example_is_half_a_year_ahead():
    from datetime import date

    assert date_example(date(2026, 11, 29)) == date(2027, 5, 1)
    assert date_example(date(2026, 6, 30)) == date(2026, 12, 1)
    assert date_example(date(2026, 7, 1)) == date(2027, 1, 1)


async def test_chat_and_api_produce_the_same_application(app, make_user, fake_wechat):
    u, _ = await bound_user(make_user)
    await file_up_to_materials(u)
    assert "一次性告知" not in await u.say("齐全")
    await u.say("1")
    chat = await Application.get(channel="chat")
    token, _ = await agent_token(app, fake_wechat)
    data = {
        "applicant": {
            "name": "李四",
            "id_number": OLD_ID,
            "phone": "13812345678",
            "address": "东浦村",
        },
        "matter": "domestic_violence",
        "facts": "遭受家庭暴力，请求离婚并赔偿。",
        "hardship": {"basis": "not_required"},
        "materials": [
            {"kind": "id_document", "status": "provided"},
            {"kind": "matter_evidence", "status": "provided"},
        ],
    }
    api = await Application.get(id=(await (await file(app, token, data)).json())["id"])
    for name in (
        "matter",
        "hardship_basis",
        "urgent",
        "decision_due",
        "materials_due",
        "applicant_id_index",
        "applicant_phone",
        "statement",
        "warnings",
        "status",
    ):
        assert getattr(chat, name) == getattr(api, name), name


async def test_missing_materials_are_named_like_any_numbered_answer(app, make_user):
    """The 暂缺材料 step reads numbers as every choice does: full-width digits, Chinese numerals
    and ordinals, several at once."""
    u, _ = await bound_user(make_user)
    await file_up_to_materials(u)  # materials: 1. ID document, 2. evidence of the matter
    id_doc, evidence = t("material.id_document", "zh_CN"), t("material.matter_evidence", "zh_CN")
    notice = await u.say("第二项")
    assert "一次性告知" in notice and evidence in notice and id_doc not in notice
    assert "材料清单" in await u.say("返回")
    notice = await u.say("２、一")  # full-width 2 and 一: both owed
    assert "一次性告知" in notice and evidence in notice and id_doc in notice
    assert "材料清单" in await u.say("返回")
    assert "一次性告知" not in await u.say("3")  # no third item: asked again


async def test_cancel_writes_nothing_and_menu_pauses_for_resume(app, make_user):
    u, _ = await bound_user(make_user)
    await start_filing(u)
    await u.say("4")
    await u.say("张三丰")
    assert "继续" in await u.say("菜单")  # paused, with the offer to go on
    reply = await u.say("继续")
    assert "身份证号码" in reply  # back at the step where it was paused
    reply = await u.say("取消")
    assert "帮办、代办法律援助申请" in reply and "没有保存" in reply
    assert await Application.all().count() == 0
    conv = await Conversation.get(openid=u.openid)
    assert conv.flow is None and conv.data == {}


async def test_an_agent_disabled_while_filing_is_told_at_the_next_answer(app, make_user):
    """Disabled mid-application (the console or `agents disable`): the next answer ends the
    filing with how to bind, not the last one after every step; 继续 of a paused draft too."""
    from models.agent import Agent

    u, agent = await bound_user(make_user)
    await start_filing(u)
    await u.say("4")
    await Agent.filter(id=agent.id).update(active=False)
    reply = await u.say("张三丰")
    assert "只有已绑定的代办人" in reply and "请回复数字选择服务" in reply
    conv = await Conversation.get(openid=u.openid)
    assert conv.flow is None and conv.data == {}

    await Agent.filter(id=agent.id).update(active=True)
    await start_filing(u)
    await u.say("4")
    assert "继续" in await u.say("菜单")  # paused
    await Agent.filter(id=agent.id).update(active=False)
    reply = await u.say("继续")
    assert "只有已绑定的代办人" in reply and "身份证号码" not in reply
    assert (await Conversation.get(openid=u.openid)).paused is None
    assert await Application.all().count() == 0


async def test_exempt_group_is_checked_against_age_in_chat(app, make_user):
    u, _ = await bound_user(make_user)
    await start_filing(u)
    young = "11010520120301001"
    from models.idcard import check_char

    for answer in [
        "4",
        "王小",
        young + check_char(young),
        "13812345678",
        "东浦村",
        "父亲不给抚养费，请求给付。",
        "无",
        "无",
        "1",
    ]:
        reply = await u.say(answer)
    assert "无固定生活来源的老年人" in reply
    numbers = {
        line.split(". ", 1)[1]: line.split(". ", 1)[0]
        for line in reply.splitlines()
        if ". " in line and line[0].isdigit()
    }
    reply = await u.say(numbers["无固定生活来源的老年人"])
    assert "年龄条件" in reply  # a 14-year-old is not elderly: re-asked, nothing stored
    reply = await u.say(numbers["无固定生活来源的未成年人"])
    assert "材料清单" in reply and "免予核查经济困难状况的证明材料" in reply


async def test_non_agents_are_told_how_to_bind(app, make_user):
    u = make_user("o-oa-stranger")
    reply = await u.say("1")
    assert "绑定" in reply and "邀请码" in reply
    assert "1." in await u.say("1")  # back to the menu
    assert await Application.all().count() == 0


async def test_binding_counts_for_the_rest_of_its_batch(app, make_user):
    """Agents are looked up once per batch; a bind inside the batch must not be missed."""
    await bound_user(make_user, "o-oa-known")
    _, code = await new_agent(name="赵六")

    def text(openid: str, content: str):
        return parse(
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{random.getrandbits(62)}</MsgId></xml>"
        )

    # The known agent's "1" looks every sender up first; the newcomer is not an agent yet.
    replies = await handle_batch(
        app.server.app,
        [text("o-oa-known", "1"), text("o-oa-new", f"绑定 {code}"), text("o-oa-new", "1")],
    )
    assert "代办人 王五" in replies[0]
    assert "绑定成功" in replies[1]
    assert "代办人 赵六" in replies[2]


async def test_chat_photos_are_fetched_for_the_centre(app, make_user, fake_wechat):
    """WeChat keeps a chat photo 3 days: the outbox fetches it into storage, like an upload."""
    from bot.auth import create_center_key
    from tests.applications_support import REGION

    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40
    fake_wechat.add_media("media-ok", jpeg)
    fake_wechat.add_media("media-gif", b"GIF89a" + b"\x00" * 64, "image/gif")
    u, _ = await bound_user(make_user)
    await file_up_to_materials(u)
    for n, media_id in enumerate(("media-ok", "media-gone", "media-gif"), start=1):
        assert f"已收到第 {n} 张" in await u.send(image_xml(u.openid, media_id))
    await u.say("齐全")
    await u.say("1")
    row = await Application.get(channel="chat")
    await drain_outbox(app)

    photos = {
        m.wechat_media_id: m for m in await Material.filter(application_id=row.id, source="chat")
    }
    ok = photos["media-ok"]
    assert (ok.content_type, ok.size) == ("image/jpeg", len(jpeg)) and ok.storage_key
    assert photos["media-gone"].storage_key is None and photos["media-gif"].storage_key is None
    key = {"X-Api-Key": await create_center_key(REGION)}
    listed = await (await app.get("/api/v1/center/applications", headers=key)).json()
    view = next(i for i in listed["items"] if i["id"] == row.id)
    urls = {m["wechat_media_id"]: m["file_url"] for m in view["materials"] if m["source"] == "chat"}
    assert urls["media-gone"] is None and urls["media-gif"] is None
    fetched = await app.get(urls["media-ok"], headers=key)
    assert fetched.status == 200 and await fetched.read() == jpeg
    # the two that could not be kept are failed rows the centre sees, with the reason
    failed = await (await app.get("/api/v1/center/outbox?status=failed", headers=key)).json()
    reasons = sorted(i["last_error"] for i in failed["items"] if i["channel"] == "wechat_media")
    assert len(reasons) == 2 and reasons[0].startswith("40007") and "JPEG" in reasons[1]
    # a second round changes nothing: the stored photo is not fetched again
    media_calls = sum(c.path == "media/get" for c in fake_wechat.calls)
    await drain_outbox(app)
    assert sum(c.path == "media/get" for c in fake_wechat.calls) == media_calls


async def test_a_photo_fetched_twice_at_once_is_stored_once(app, make_user, fake_wechat):
    """Two workers fetching the same photo (a lease ran out) leave one file, not two."""
    import asyncio
    from pathlib import Path

    from bot.keys import settings_key
    from bot.storage import store_chat_photo

    fake_wechat.add_media("media-twice", b"\xff\xd8\xff\xe0" + b"\x02" * 3000)
    u, _ = await bound_user(make_user)
    await file_up_to_materials(u)
    await u.send(image_xml(u.openid, "media-twice"))
    await u.say("齐全")
    await u.say("1")
    m = await Material.get(wechat_media_id="media-twice")
    web_app = app.server.app
    await asyncio.gather(*(store_chat_photo(web_app, m.id, "media-twice") for _ in range(2)))
    await m.refresh_from_db()
    folder = Path(web_app[settings_key].data_dir) / "materials" / str(m.application_id)
    assert [p.relative_to(folder.parent).as_posix() for p in folder.iterdir()] == [m.storage_key]


async def test_summary_shows_everything_and_edits_by_number(app, make_user):
    u, agent = await bound_user(make_user)
    await start_filing(u)
    long_facts = "儿子三年未给付赡养费，" * 8 + "请求给付赡养费。"
    for answer in [
        "4",
        "张三丰",
        OLD_ID,
        "13812345678",
        "东浦街道东浦村3组",
        long_facts,
        "张小明",
        date_example(local_today()).isoformat(),
        "2",
        "2",
        "800",
        "务农",
        "无",
        "1",
        "1",
    ]:  # pledge: signature
        await u.say(answer)
    assert "已记录" in await u.say("纸质留存")  # the agent keeps the paper pledge
    summary = await u.say("齐全")
    for line in (
        "1. 事项：请求给付赡养费",
        "2. 申请人：张*丰",
        "3. 身份证：110105********002X",
        "4. 手机：138****5678",
        "5. 住址：东浦街道东浦",
        f"（共{len(long_facts)}字）",
        "7. 对方当事人：张小明",
        f"8. 时效届满：{date_example(local_today())}",
        "家庭2口人，月收入800元",
        "本人签名，纸质承诺书由代办人留存",
        "10. 材料：暂缺：无；材料照片0张",
        "改 3",
    ):
        assert line in summary, line
    assert "照片已收到" not in summary  # no photo came: the summary says so
    assert "手机号码" in await u.say("改 4")
    back = await u.say("13900001111")  # straight back to the summary, not on to the address
    assert "4. 手机：139****1111" in back and "5. 住址：东浦街道东浦" in back
    assert "对方当事人" in await u.say("改 7")
    assert "7. 对方当事人：无" in await u.say("无")
    assert "1 到 10" in await u.say("改 11")
    # a minute passes (the chat rate limit allows 30 messages a minute)
    await Conversation.filter(openid=u.openid).update(rate_count=0)
    # a new matter that still fits the pledge goes back to the summary at once
    await u.say("改 1")
    assert "城乡务工人员" in await u.say("5")  # a wage claim asks who is claiming (green channel)
    assert "1. 事项：请求确认劳动关系或者支付劳动报酬" in await u.say("2")
    # an Art. 32 matter drops the hardship path and re-asks the materials
    await u.say("改 1")
    reply = await u.say("15")
    assert "不受经济困难条件限制" in reply and "材料清单" in reply
    summary = await u.say("齐全")
    assert "9. 经济困难：" + t("hardship.not_required") in summary
    assert "不受经济困难条件限制" in await u.say("改 9")
    done = await u.say("1")
    row = await Application.get(agent_id=agent.id)
    assert f"#{row.id}" in done and row.matter == "domestic_violence"
    assert row.applicant_phone == "13900001111" and row.opposing_party is None
    assert row.pledge is None and row.hardship_basis == "not_required"


async def test_edit_outside_the_summary_says_where_it_works(app, make_user):
    u, _ = await bound_user(make_user)
    assert "核对页" in await u.say("改 3")
    await start_filing(u)
    reply = await u.say("改 3")
    assert "核对页" in reply and "事项" in reply  # and the matter is asked again
