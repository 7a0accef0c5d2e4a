"""查询办理进度: the user's own cases and complaints, short, with details on a digit; and the
message catalogs of this feature (same keys and placeholders in every locale)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from i18n import t
from models.case import Case
from models.complaint import Complaint
from tests.test_cases_support import center_key, put_case

I18N = Path(__file__).resolve().parent.parent / "i18n"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"default_region": "611026"})


async def test_nothing_yet_says_how_things_get_here(user):
    reply = await user.say("2")
    assert "暂时没有查到" in reply and "请回复数字选择服务" in reply
    # the flow ended at once: the menu closes the answer, with no "返回/取消" hint after it
    assert reply.endswith(t("menu.hint")) and t("flow.hint") not in reply
    assert "暂时没有查到" in await user.say("2")  # idle again: the menu still works


async def test_lists_own_cases_and_complaints_with_details(app, user, make_user):
    key = await center_key()
    await put_case(app, key, expect=200)
    await put_case(app, key, case_no="别人的案件", expect=200, cause="交通事故")
    await Case.filter(case_no="柞法援民2026-12").update(openid=user.openid)
    await Case.filter(case_no="别人的案件").update(openid="o-other")
    await user.say("投诉 律师一直不回我电话，很着急")
    await make_user("o-other").say("投诉 别人的投诉内容在这里")
    ticket = (await Complaint.get(openid=user.openid)).ticket
    listing = await user.say("查询办理进度")
    assert "1. 劳动报酬纠纷案件：已结案，待回访" in listing
    assert f"2. 投诉 {ticket}：已收到，等待受理" in listing
    assert "交通事故" not in listing and listing.count("投诉 ") == 1
    detail = await user.say("1")
    assert "柞法援民2026-12" in detail and "李律师" in detail and "待回访" in detail
    await user.say("2")
    assert "决定是否受理" in await user.say("2")


async def test_garbage_reprompts(app, user):
    await user.say("投诉 律师一直不回我电话，很着急")
    await user.say("2")
    assert "请回复 1。" in await user.say("什么")
    assert "已取消" in await user.say("取消")


async def test_english_works_too(user):
    await user.say("English")
    assert "Scan the QR code" in await user.say("2")


@pytest.mark.parametrize("name", ["callbacks", "complaints", "handoff"])
def test_catalogs_have_the_same_keys_and_placeholders(name):
    zh = json.loads((I18N / "zh_CN" / f"{name}.json").read_text("utf-8"))
    en = json.loads((I18N / "en" / f"{name}.json").read_text("utf-8"))
    assert zh.keys() == en.keys()
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key
