"""Drafts in chat are never corrupted or thrown away silently (issue 11, items 1–3).

继续 at an open step re-asks it; a menu entry, a command or 人工 never replaces a draft without
asking; an answer arriving after the idle pause is kept and applied when the user resumes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from i18n import t
from models.conversation import Conversation
from tests.test_applications_chat import OLD_ID, bound_user, start_filing

MENU = "请回复数字选择服务"


async def state(openid: str) -> Conversation:
    return await Conversation.get(openid=openid)


async def expire(openid: str) -> None:
    await Conversation.filter(openid=openid).update(
        expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )


async def up_to_opposing(u) -> None:
    await start_filing(u)
    for answer in [
        "4",
        "张三丰",
        OLD_ID,
        "13812345678",
        "东浦村",
        "儿子三年未给付赡养费，请求给付。",
    ]:
        await u.say(answer)


async def test_continue_inside_a_flow_reasks_the_step_and_a_digit_answers_it(make_user):
    u, _ = await bound_user(make_user)
    await up_to_opposing(u)
    reply = await u.say("继续")
    assert "对方当事人" in reply and MENU not in reply and "没有可以继续" not in reply
    assert "届满" in await u.say("张小明")
    conv = await state(u.openid)
    assert conv.flow == "agent_filing" and conv.data["opposing"] == "张小明"


async def test_continue_with_nothing_at_all_shows_the_menu(user):
    reply = await user.say("继续")
    assert "没有可以继续" in reply and MENU in reply


async def test_a_menu_entry_while_a_draft_is_paused_asks_first(make_user):
    u, _ = await bound_user(make_user)
    await start_filing(u)
    await u.say("4")  # the matter: now it is a draft
    assert "已暂停" in await u.say("菜单")
    ask = await u.say("1")  # the same entry again
    assert f"您有一份未完成的「{t('filing.title')}」" in ask
    assert "1. 继续填写" in ask and "2. 放弃并重新开始" in ask
    assert "姓名" in await u.say("继续填写")  # back where it stopped, the matter kept
    assert (await state(u.openid)).data["matter"] == "support_payment"
    await u.say("菜单")
    await u.say("1")
    assert "代办人 王五" in await u.say("2")  # dropped on purpose: a fresh start
    conv = await state(u.openid)
    assert conv.paused is None and conv.step == "intro" and "matter" not in conv.data


async def test_another_flow_or_human_never_drops_a_draft(make_user):
    u, _ = await bound_user(make_user)
    await start_filing(u)
    await u.say("4")
    ask = await u.say("回访")  # a command starting another flow, mid-draft
    assert "未完成" in ask and "放弃，改为办理「案件回访评价」" in ask
    assert "姓名" in await u.say("1")
    await u.say("人工")  # a quick 人工 keeps the draft aside
    assert (await state(u.openid)).paused["flow"] == "agent_filing"
    await u.say("结束")
    assert "姓名" in await u.say("继续")


async def test_cancel_with_a_paused_draft_drops_it(make_user):
    u, _ = await bound_user(make_user)
    await start_filing(u)
    await u.say("4")
    await u.say("菜单")
    assert "已取消" in await u.say("取消")
    assert (await state(u.openid)).paused is None
    assert "代办人 王五" in await u.say("1")  # nothing to ask about any more


async def test_an_answer_after_the_idle_pause_is_applied_on_resume(make_user):
    u, _ = await bound_user(make_user)
    await up_to_opposing(u)
    await expire(u.openid)
    offer = await u.say("张小明")
    assert "超过30分钟" in offer and "1. 继续填写（用上您刚才的回复）" in offer
    assert MENU not in offer and "张小明" not in offer  # no echo of what may be personal data
    reply = await u.say("1")
    assert "接着办理" in reply and "届满" in reply  # applied: the next question follows
    assert (await state(u.openid)).data["opposing"] == "张小明"


async def test_a_late_answer_survives_the_menu_and_continue(make_user):
    u, _ = await bound_user(make_user)
    await up_to_opposing(u)
    await expire(u.openid)
    await u.say("张小明")
    assert MENU in await u.say("2")  # not now
    assert "届满" in await u.say("继续")
    assert (await state(u.openid)).data["opposing"] == "张小明"


async def test_a_custom_menu_click_during_a_flow_pauses_it(make_user):
    u, _ = await bound_user(make_user)
    await start_filing(u)
    await u.say("4")
    assert "使用说明" in await u.event("CLICK", "HELP")  # a global word: the step stays
    assert "未完成" in await u.event("CLICK", "complaint", created=int(time.time()) + 7)
    conv = await state(u.openid)
    assert conv.flow == "draft_guard" and conv.paused["flow"] == "agent_filing"
    assert "姓名" in await u.say("1")


async def test_cancel_at_the_question_drops_the_draft(make_user):
    u, _ = await bound_user(make_user)
    await start_filing(u)
    await u.say("4")
    await u.say("回访")
    assert "没有保存" in await u.say("取消")
    assert (await state(u.openid)).paused is None
