"""People who want help, not a menu (issue 11, item 9): how to apply, and a greeting."""

from __future__ import annotations

import pytest

from tests.applications_support import REGION, new_agent

MENU = "请回复数字选择服务"


@pytest.fixture
async def regional_user(aiohttp_client, settings):
    from bot.app import create_app
    from tests.conftest import WeChatUser

    client = await aiohttp_client(
        create_app(settings.model_copy(update={"default_region": REGION}))
    )
    return WeChatUser(client, openid="o-howto")


@pytest.mark.parametrize(
    "text", ["我想申请法律援助", "申请", "法律援助", "咨询", "我要找律师。", "怎么申请法律援助？"]
)
async def test_asking_for_aid_says_how_to_apply(user, text):
    reply = await user.say(text)
    assert "没有看懂" not in reply
    assert "12348" in reply and "身份证件" in reply and MENU in reply


async def test_the_agents_of_the_users_region_are_named(regional_user):
    await new_agent(name="王五", village="东浦村")
    await new_agent(region="110105", name="赵六", village="别处村")
    reply = await regional_user.say("我想申请法律援助")
    assert "王五（东浦村，代办人）" in reply and "赵六" not in reply


async def test_a_greeting_gets_a_greeting_and_menu_words_still_work(user):
    reply = await user.say("你好")
    assert reply.startswith("您好") and MENU in reply and "12348" not in reply
    assert "您要投诉的是" in await user.say("我想投诉律师")  # a menu entry's word wins
    await user.say("菜单")
    assert "请回复数字选择服务" in await user.say("申请进度")  # progress, not how to apply


async def test_english_users_get_the_same(user):
    await user.say("English")
    reply = await user.say("I want to apply for legal aid")
    assert "12348" in reply and "Please bring" in reply
    assert (await user.say("hello")).startswith("Hello")
