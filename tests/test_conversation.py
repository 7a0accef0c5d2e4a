"""The conversation engine through the webhook: global commands, flows, expiry, ordering.

A small two-step flow declared here exercises the engine the way feature flows use it.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot import flowkit
from bot.flowkit import Choice, Ctx, Done, Flow, Next, Start, Stay, Step
from models.conversation import Conversation


async def ask_name(ctx: Ctx):
    """Stores a name and asks for a colour."""
    if len(ctx.text) > 10:
        return Stay("名字太长")
    ctx.data["name"] = ctx.text
    return Next("colour")


async def ask_colour(ctx: Ctx):
    """Stores the colour and finishes."""
    return Done(f"完成：{ctx.data['name']} / {ctx.choice}")


async def count(ctx: Ctx):
    """Appends every answer: lost updates would show as missing entries."""
    ctx.data["seen"] = [*ctx.data.get("seen", []), ctx.text]
    return Next("count")


TEST_FLOW = Flow(
    "t_flow",
    "menu.help",
    (
        Step("name", "menu.title", ask_name, raw=True),
        Step(
            "colour",
            "menu.title",
            ask_colour,
            choices=(Choice("red", "menu.progress", words=("红",)), Choice("blue", "menu.help")),
        ),
    ),
)
COUNT_FLOW = Flow("t_count", "menu.help", (Step("count", "menu.title", count, raw=True),))


@pytest.fixture(autouse=True)
def test_flows():
    flowkit.register_flow(TEST_FLOW)
    flowkit.register_flow(COUNT_FLOW)

    async def start(ctx, m):
        return Start("t_flow" if m.group(1) == "测试" else "t_count")

    entry = (re.compile(r"^(测试|计数)$"), start)
    flowkit.COMMANDS.append(entry)
    yield
    flowkit.COMMANDS.remove(entry)
    del flowkit.FLOWS["t_flow"], flowkit.FLOWS["t_count"]


async def state(openid: str) -> Conversation:
    return await Conversation.get(openid=openid)


async def test_idle_user_gets_the_menu_and_digits_pick_entries(user, monkeypatch):
    menu = await user.say("你好")
    assert "1. 代办法律援助申请" in menu and "7. English" in menu
    assert "没有看懂" in await user.say("随便说说")
    assert "使用说明" in await user.say("6")
    assert "使用说明" in await user.say("使用帮助")  # words work like digits
    monkeypatch.delitem(flowkit.FLOWS, "progress")  # an entry whose feature is not built
    reply = await user.say("2")
    assert "正在建设中" in reply and "12348" in reply  # said honestly


async def test_help_and_language_switch_persist(user):
    assert "使用说明" in await user.say("帮助")
    english = await user.say("English")
    assert "Switched to English" in english and "Reply with a number" in english
    assert "How to use" in await user.say("help")
    assert (await state(user.openid)).locale == "en"
    assert "已切换为中文" in await user.say("中文")


async def test_flow_steps_back_and_choice_validation(user):
    assert "请回复数字" in await user.say("测试")  # first prompt
    second = await user.say("小王")
    assert "1. 查询办理进度" in second and "返回" in second
    assert await user.say("9") == "请回复 1 或 2。"  # invalid choice: a one-line re-prompt
    back = await user.say("返回")
    assert (await state(user.openid)).step == "name" and "请回复数字" in back
    assert "第一步" in await user.say("上一步")
    await user.say("老李")
    assert "完成：老李 / red" in await user.say("红")  # a word picks a choice
    assert (await state(user.openid)).flow is None


async def test_raw_step_reprompts_and_zero_is_an_answer_there(user):
    await user.say("测试")
    assert "名字太长" in await user.say("一二三四五六七八九十十一")
    await user.say("0")
    conv = await state(user.openid)
    assert conv.flow == "t_flow" and conv.data["name"] == "0"


async def test_cancel_clears_and_nothing_to_cancel(user):
    assert "没有正在办理" in await user.say("取消")
    await user.say("测试")
    await user.say("小王")
    assert "已取消" in await user.say("取消")
    conv = await state(user.openid)
    assert conv.flow is None and conv.data == {}
    assert "无法返回" in await user.say("返回")


async def test_menu_pauses_and_continue_resumes(user):
    await user.say("测试")
    await user.say("小王")
    paused = await user.say("菜单")
    assert "已暂停" in paused and "继续" in paused
    resumed = await user.say("继续")
    assert "接着办理" in resumed
    assert "完成：小王 / blue" in await user.say("2")
    assert "没有可以继续" in await user.say("继续")


async def test_idle_expiry_keeps_the_late_answer(user):
    await user.say("测试")
    await user.say("小王")
    await Conversation.filter(openid=user.openid).update(
        expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    offer = await user.say("1")  # not applied to a stale step without asking, but kept
    assert "超过30分钟" in offer and "用上您刚才的回复" in offer
    assert (await state(user.openid)).paused["late"] == "1"
    assert "完成：小王 / red" in await user.say("1")


async def test_human_without_handoff_flow_is_honest(user, monkeypatch):
    monkeypatch.delitem(flowkit.FLOWS, "handoff")  # e.g. a deployment without 人工
    assert "12348" in await user.say("人工")


async def test_unsubscribe_clears_state_and_subscribe_welcomes(user):
    await user.say("测试")
    assert await user.event("unsubscribe") is None
    conv = await state(user.openid)
    assert conv.subscribed is False and conv.flow is None
    welcome = await user.event("subscribe")
    assert "欢迎" in welcome and "1. 代办法律援助申请" in welcome
    assert (await state(user.openid)).subscribed is True


async def test_unknown_scene_and_menu_click(user):
    assert "失效" in await user.event("SCAN", "nope:123")
    assert "使用说明" in await user.event("CLICK", "HELP")
    assert await user.event("VIEW", "https://example.com") is None


async def test_one_users_messages_never_interleave(user):
    await user.say("计数")
    await asyncio.gather(*(user.say(f"m{i}") for i in range(12)))
    conv = await state(user.openid)
    assert sorted(conv.data["seen"]) == sorted(f"m{i}" for i in range(12))
    assert conv.version == 13


async def test_two_lanes_keep_each_users_order(app, make_user, monkeypatch):
    """Batches run two at a time (PostgreSQL's setting, forced here on sqlite too): a user
    with a message in a running batch waits for it, so everyone's messages are handled in
    the order they came, and no user is in two running batches."""
    from bot import conversation
    from bot.wechat.protocol import Incoming

    users = [make_user(f"o-lane-{i}") for i in range(4)]
    for u in users:
        await u.say("计数")
    batcher = app.app[conversation.batcher_key]
    monkeypatch.setattr(batcher, "lanes", 2)
    running: list[set[str]] = []
    overlapped = []
    real = conversation.handle_batch

    async def spy(app_, incs):
        openids = {i.openid for i in incs}
        assert not any(openids & other for other in running), "a user in two running batches"
        running.append(openids)
        overlapped.append(len(running) > 1)
        try:
            await asyncio.sleep(0.005)  # long enough for the other lane to start
            return await real(app_, incs)
        finally:
            running.remove(openids)

    monkeypatch.setattr(conversation, "handle_batch", spy)
    now = int(datetime.now(UTC).timestamp())
    messages = [
        Incoming(
            openid=u.openid, to="gh", kind="text", created=now, msg_id=f"9{n}{i}", text=f"m{i}"
        )
        for i in range(10)
        for n, u in enumerate(users)
    ]
    # handle() queues each message before its first wait: this is the order of arrival
    await asyncio.gather(*(conversation.handle(app.app, m) for m in messages))
    assert any(overlapped)
    for u in users:
        assert (await state(u.openid)).data["seen"] == [f"m{i}" for i in range(10)]


async def test_a_finished_flow_is_counted_once_when_its_batch_runs_again(app, make_user):
    """One batch: A finishes a flow (no database needed), B asks for a person (a ticket: the
    database). On PostgreSQL the batch leaves its optimistic run and runs again; the
    completion is counted once, when the batch is saved."""
    from bot import conversation
    from bot.wechat.protocol import Incoming

    a, b = make_user("o-done-a"), make_user("o-done-b")
    await a.say("测试")
    await a.say("张三")  # A is at the colour step
    await b.say("帮助")
    now = int(datetime.now(UTC).timestamp())
    batch = [
        Incoming(openid=a.openid, to="gh", kind="text", created=now, msg_id="81", text="红"),
        Incoming(openid=b.openid, to="gh", kind="text", created=now, msg_id="82", text="人工"),
    ]
    replies = await conversation.handle_batch(app.app, batch)
    assert "完成：张三" in replies[0]
    metrics = await (await app.get("/metrics")).text()
    assert 'flow_completions_total{flow="t_flow"} 1.0' in metrics


async def test_different_users_do_not_block_each_other(make_user):
    users = [make_user(f"o-par-{i}") for i in range(6)]
    replies = await asyncio.gather(*(u.say("帮助") for u in users))
    assert all("使用说明" in r for r in replies)


async def test_chat_rate_limit_answers_once_then_stays_quiet(aiohttp_client, settings):
    from bot.app import create_app
    from tests.conftest import WeChatUser

    client = await aiohttp_client(create_app(settings.model_copy(update={"chat_rate_limit": 3})))
    u = WeChatUser(client, openid="o-fast")
    for _ in range(3):
        assert "使用说明" in await u.say("帮助")
    assert "太快" in await u.say("帮助")
    assert await u.say("帮助") is None  # no reply storm for a flooding client
    other = WeChatUser(client, openid="o-calm")
    assert "使用说明" in await other.say("帮助")  # others are unaffected
    await Conversation.filter(openid="o-fast").update(
        rate_window=datetime.now(UTC) - timedelta(minutes=2)
    )
    assert "使用说明" in await u.say("帮助")  # the next minute is a new window
