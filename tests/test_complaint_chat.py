"""Complaints in chat: the guided flow, the one-shot `投诉 <text>`, `查询投诉 <ticket>`, and abuse."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from models.calendar import add_working_days
from models.case import Case
from models.complaint import Complaint, accept_due
from models.policy import PRESETS
from tests.conftest import drain_outbox
from tests.test_cases_support import PHONE, add_staff, center_key, image, put_case, sent_to, today


@pytest.fixture
def settings(settings, fake_center):
    return settings.model_copy(
        update={
            "default_region": "611026",
            "center_webhook_url": fake_center.url + "/events",
            "center_webhook_secret": fake_center.secret,
        }
    )


async def test_guided_complaint_with_photos_gets_a_ticket(app, user, fake_wechat, fake_center):
    await add_staff("王主任", "o-sup", supervisor=True)
    assert "您要投诉的是" in await user.say("投诉")
    assert "主要是什么问题" in await user.say("1")  # no bound case: straight to the grounds
    assert "把经过说一下" in await user.say("1")  # 收取或索要钱物
    assert "照片" in await user.say(f"律师说要先交两千块才办，电话{PHONE}")
    assert await user.send(image(user.openid, 1)) == "已收到第 1 张，发完请回复 1。"
    assert "已收到第 2 张" in await user.send(image(user.openid, 2))
    summary = await user.say("1")
    assert "收取或索要钱物" in summary and "照片：2张" in summary
    reply = await user.say("确认")
    c = await Complaint.get()
    assert c.ticket in reply and f"查询投诉 {c.ticket}" in reply
    assert (c.about, c.grounds, c.status, c.region) == ("handler", "money", "received", "611026")
    assert len(c.photos) == 2 and c.photos[0]["media_id"] == "media1"
    assert c.accept_due == add_working_days(today(), 5)
    await drain_outbox(app)
    [alert] = sent_to(fake_wechat, "o-sup")
    assert "新投诉" in alert and c.ticket in alert and PHONE not in alert
    [event] = [json.loads(d.body) for d in fake_center.received]
    assert event["type"] == "complaint.created" and event["data"]["ticket"] == c.ticket


async def test_complaint_about_a_bound_case_asks_which(app, user):
    key = await center_key()
    await put_case(app, key, expect=200)
    await Case.all().update(openid=user.openid)
    await user.say("4")
    reply = await user.say("1")
    assert "哪个案件" in reply and "1. 劳动报酬纠纷（柞法援民2026-12）" in reply
    assert "主要是什么问题" in await user.say("1")
    await user.say("2")
    await user.say("一直不办")
    await user.say("1")
    await user.say("1")
    c = await Complaint.get().prefetch_related("case")
    assert c.case.case_no == "柞法援民2026-12" and c.grounds == "delay"


async def test_one_shot_files_at_once(user):
    reply = await user.say("投诉 承办律师收了我两千元红包，还不给我看材料")
    c = await Complaint.get()
    assert c.ticket in reply and c.source == "chat_command" and c.text.startswith("承办律师")


async def test_ten_thousand_characters_are_cut_with_a_message(user):
    reply = await user.say("投诉" + "律" * 10_000)
    assert "只保存了前1000字" in reply
    c = await Complaint.get()
    assert len(c.text) == 1000 and c.ticket in reply
    await user.say("投诉")
    await user.say("2")
    await user.say("3")
    reply = await user.say("慢" * 10_000)
    assert "只保存了前1000字" in reply and "照片" in reply


async def test_objections_are_pointed_to_the_objection_procedure(user):
    reply = await user.say("投诉 中心对我的申请不予法律援助，我不服")
    assert "异议" in reply and "司法" in reply
    await user.say("投诉")
    await user.say("2")
    reply = await user.say("8")
    assert "异议" in reply
    assert await Complaint.all().count() == 0


async def test_short_or_bare_word_starts_the_guided_flow(user):
    assert "您要投诉的是" in await user.say("投诉进度")
    assert await Complaint.all().count() == 0


async def test_lookup_answers_only_the_complainant(make_user, user):
    await user.say("投诉 工作人员态度很差，拍桌子骂人")
    ticket = (await Complaint.get()).ticket
    mine = await user.say(f"查询投诉 {ticket}")
    assert ticket in mine and "决定是否受理" in mine
    assert ticket in await user.say(f"查询投诉{ticket[:6]}-{ticket[6:]}")
    stranger = await make_user("o-stranger").say(f"查询投诉 {ticket}")
    assert "没有找到" in stranger and "态度" not in stranger
    assert "没有找到" in await user.say("查询投诉 0000000000")
    assert ticket in await user.say("查询投诉")


async def test_garbage_at_every_step_reprompts(user):
    await user.say("投诉")
    assert "请回复 1–4 的数字" in await user.say("不知道")
    await user.say("3")
    assert await user.say("99") == "请回复 1–8 的数字；回复「列表」再看选项。"
    await user.say("3")
    await user.say("服务差")
    assert "请回复 1。" in await user.say("还有")
    for _ in range(10):
        await user.send(image(user.openid))
    assert "最多只能发9张" in await user.send(image(user.openid))
    assert "照片：9张" in await user.say("发完了")
    assert "请回复 1 或 2" in await user.say("也许")
    assert "已取消" in await user.say("取消")
    assert await Complaint.all().count() == 0


async def test_no_region_is_refused_honestly(aiohttp_client, app, settings):
    from bot.app import create_app
    from tests.conftest import WeChatUser

    client = await aiohttp_client(create_app(settings.model_copy(update={"default_region": None})))
    reply = await WeChatUser(client, openid="o-nowhere").say("投诉 律师收钱了不办事")
    assert "12348" in reply and await Complaint.all().count() == 0


def test_acceptance_deadline_uses_working_days():
    national = PRESETS["national"]
    # 2026-09-30 (Wed) + 5 working days skips the National Day holiday (1–7 October)
    assert accept_due(today().replace(year=2026, month=9, day=30), national) > today().replace(
        year=2026, month=10, day=7
    )
    # 2027: no official calendar yet: Monday–Friday (Fri 1 Jan + 5 -> Fri 8 Jan)
    assert accept_due(today().replace(year=2027, month=1, day=1), national) == today().replace(
        year=2027, month=1, day=8
    )
    assert accept_due(today().replace(year=2027, month=1, day=1), national) - today().replace(
        year=2027, month=1, day=1
    ) == timedelta(days=7)
