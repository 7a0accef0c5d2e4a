"""Short messages for elderly users and busy agents (issue 11, item 5): a wrong answer gets one
line, each photo one line, and a reply carries at most one footer."""

from __future__ import annotations

from i18n import t
from tests.test_applications_chat import bound_user, start_filing
from tests.test_complaint_chat import image


async def test_a_wrong_answer_is_one_line_and_list_shows_the_options(make_user):
    u, _ = await bound_user(make_user)
    await start_filing(u)  # the matter step: 17 options or so
    reply = await u.say("99")
    assert reply.startswith("请回复 1–1") and reply.endswith("回复「列表」再看选项。")
    assert "\n" not in reply and "依法请求国家赔偿" not in reply
    assert "1. 依法请求国家赔偿" in await u.say("列表")
    assert "姓名" in await u.say("赡养费")  # a synonym picks the support matter


async def test_two_options_say_1_or_2(user):
    await user.say("投诉")
    await user.say("4")  # about: other
    await user.say("3")  # grounds: attitude
    await user.say("态度很差")
    await user.say("1")  # no photos
    assert await user.say("随便") == "请回复 1 或 2。"


async def test_each_photo_is_one_line(user):
    await user.say("投诉")
    for answer in ("4", "3", "态度很差"):
        await user.say(answer)
    assert await user.send(image(user.openid, 1)) == "已收到第 1 张，发完请回复 1。"
    assert await user.send(image(user.openid, 2)) == "已收到第 2 张，发完请回复 1。"


async def test_human_chat_and_paused_menu_carry_one_footer(user):
    reply = await user.say("人工")
    assert t("flow.hint") not in reply and reply.count("回复“结束”") == 1
    await user.say("结束")
    await user.say("投诉")
    await user.say("4")
    menu = await user.say("菜单")
    assert "回复“继续”" in menu and t("menu.hint") not in menu
