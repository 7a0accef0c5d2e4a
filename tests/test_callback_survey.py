"""The callback survey in chat: the QR scan, the four questions, and what people get wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from i18n import t
from models.callback import Callback, CallbackInvitation
from models.case import Case
from tests.conftest import drain_outbox
from tests.test_cases_support import (
    add_staff,
    center_key,
    invite,
    next_created,
    put_case,
    sent_to,
    voice,
)


@pytest.fixture
async def scene(app) -> str:
    key = await center_key()
    await put_case(app, key, expect=200)
    return (await invite(app, key))["scene"]


async def scan(user, scene: str) -> str:
    return await user.event("SCAN", scene, created=next_created())


async def answer_all(user, *answers: str) -> str:
    reply = ""
    for a in answers:
        reply = await user.say(a)
    return reply


async def test_scan_binds_and_asks_q1_at_once(user, scene):
    reply = await scan(user, scene)
    assert "劳动报酬纠纷" in reply and "李律师" in reply
    assert "第1题" in reply and "1. 是" in reply and "2. 否" in reply
    assert (await Case.get()).openid == user.openid


async def test_new_follower_scanning_gets_welcome_and_q1(make_user, scene):
    newcomer = make_user("o-new-follower")
    reply = await newcomer.event("subscribe", "qrscene_" + scene, created=next_created())
    assert "欢迎关注" in reply and "第1题" in reply


async def test_all_no_satisfied_is_stored_without_alert(user, scene, app, fake_wechat):
    await add_staff("王主任", "o-sup", supervisor=True)
    await scan(user, scene)
    await user.say("2")
    await user.say("没有")
    await user.say("满意")
    summary = await user.say("无")
    assert "收费或要钱要物：否" in summary and "满意" in summary and "意见建议：无" in summary
    assert "感谢" in await user.say("1")
    cb = await Callback.get()
    assert (cb.fee_charged, cb.negligent, cb.satisfied, cb.channel) == (
        False,
        False,
        True,
        "wechat",
    )
    assert cb.comments is None and not cb.flagged and cb.status == "completed"
    await drain_outbox(app)
    assert sent_to(fake_wechat, "o-sup") == []


async def test_yes_asks_details_once_and_voice_answers(user, scene):
    await scan(user, scene)
    assert "收了什么" in await user.say("是")
    assert "第2题" in await user.say("收了五百块钱，电话13812345678")
    assert "具体情况" in await user.send(voice(user.openid, "有。"))
    assert "第3题" in await user.say("一直拖着不办")
    assert "第4题" in await user.send(voice(user.openid, "不满意。"))
    summary = await user.say("希望改进")
    assert "收了五百块钱" in summary and "一直拖着不办" in summary and "不满意" in summary
    await user.say("确认提交")
    cb = await Callback.get()
    assert (cb.fee_charged, cb.negligent, cb.satisfied, cb.flagged) == (True, True, False, True)
    assert cb.comments == "希望改进"


@pytest.mark.parametrize(
    "step_answers,garbage",
    [
        ([], "也许吧"),
        (["1"], None),  # the details step takes any text: nothing to reject
        (["2"], "3"),
        (["2", "2"], "一般般吧"),
        (["2", "2", "1", "无"], "9"),
    ],
)
async def test_garbage_is_reprompted_and_nothing_is_stored(user, scene, step_answers, garbage):
    await scan(user, scene)
    await answer_all(user, *step_answers)
    if garbage is None:
        return
    reply = await user.say(garbage)
    assert reply.startswith("请回复 1 或 2")  # one line, not the question again
    assert (await Callback.get()).answered_at is None
    for junk in ("", "🙂", "x" * 5000):
        reply = await user.say(junk or " ")
        assert reply


async def test_redo_starts_over_and_back_goes_back(user, scene):
    await scan(user, scene)
    await answer_all(user, "2", "2")
    assert "第2题" in await user.say("返回")
    await answer_all(user, "2", "1", "无")
    assert "第1题" in await user.say("2")  # 重新填写
    await answer_all(user, "1", "收了钱", "2", "1", "无", "1")
    cb = await Callback.get()
    assert cb.fee_charged and cb.fee_details == "收了钱"


async def test_answered_twice_the_first_stands(user, scene, app):
    await scan(user, scene)
    await answer_all(user, "2", "2", "1", "无", "1")
    reply = await scan(user, scene)
    assert "已经完成" in reply
    first = await Callback.get()
    # a second run started before the first was submitted cannot overwrite it either
    await Callback.filter(id=first.id).update(answered_at=None)
    await user.say("回访")
    await Callback.filter(id=first.id).update(answered_at=first.answered_at)
    reply = await answer_all(user, "1", "收了", "1", "有", "2", "差", "1")
    assert "已经完成" in reply
    again = await Callback.get()
    assert (again.fee_charged, again.satisfied) == (False, True)


async def test_second_openid_is_told_politely_and_case_stays(make_user, user, scene):
    await scan(user, scene)
    other = make_user("o-someone-else")
    reply = await scan(other, scene)
    assert "另一个微信号" in reply and "第1题" not in reply
    assert (await Case.get()).openid == user.openid
    assert (await CallbackInvitation.get()).scanned_by == user.openid


async def test_unknown_and_expired_scenes(user, make_user, scene):
    assert "无法识别" in await scan(user, "cb:doesnotexist")
    assert "无法识别" in await scan(user, "zz:whatever")
    await CallbackInvitation.all().update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    reply = await scan(make_user("o-late"), scene)
    assert "过期" in reply and "第1题" not in reply
    assert (await Case.get()).openid is None


async def test_scan_while_in_another_flow_keeps_that_flow(user, scene):
    await user.say("投诉")
    reply = await scan(user, "cb:doesnotexist")
    assert "无法识别" in reply and "您要投诉的是" in reply


async def test_menu_entry_without_a_case_says_so(user):
    reply = await user.say("3")
    assert "没有需要回访的案件" in reply and "请回复数字选择服务" in reply
    assert reply.endswith(t("menu.hint")) and t("flow.hint") not in reply
    assert "没有需要回访的案件" in await user.say("3")  # still idle: the menu answers again


async def test_reply_huifang_resumes_a_bound_case(user, scene):
    await scan(user, scene)
    await user.say("取消")
    assert "第1题" in await user.say("回访")
    await user.say("取消")
    assert "第1题" in await user.say("3")  # the menu entry too
