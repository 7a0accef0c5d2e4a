"""Authorization before effects: a staff command that is refused changes nothing, anywhere.

One test per staff chat command (`接 <ticket>`, the relay, `结束`, 取消 in the relay): the refused
command leaves the user's conversation, the ticket and the outbox as they were.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.conversation import Conversation
from models.handoff import Handoff
from models.outbox import OutboxMessage
from tests.test_cases_support import OTHER_REGION, add_staff, tick

pytestmark = pytest.mark.db


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"default_region": "611026"})


async def _state(openid: str) -> tuple:
    conv = await Conversation.get(openid=openid)
    h = await Handoff.get(openid=openid)
    return (
        (conv.flow, conv.step, conv.data),
        (h.status, h.staff_id, h.replies),
        await OutboxMessage.all().count(),
    )


@pytest.fixture
async def waiting(app, user, make_user):
    """A user who asked for a person, then went back to the menu (idle, ticket waiting)."""
    await add_staff("王芳", "o-staff-1")
    await add_staff("赵强", "o-staff-2")
    await add_staff("远方", "o-far", region=OTHER_REGION)
    await user.say("人工")
    await user.say("菜单")
    return await Handoff.get()


async def test_take_from_another_region_changes_nothing(user, make_user, waiting):
    before = await _state(user.openid)
    reply = await make_user("o-far").say(f"接 {waiting.id}")
    assert f"没有编号为 {waiting.id}" in reply
    assert await _state(user.openid) == before
    await user.say("1")  # the user's next digit is still a menu choice, not a ticket message
    assert (await Handoff.get()).messages == []


async def test_take_of_a_ticket_held_by_someone_else_changes_nothing(user, make_user, waiting):
    await make_user("o-staff-1").say(f"接 {waiting.id}")
    await user.say("菜单")
    before = await _state(user.openid)
    assert "已由王芳接待" in await make_user("o-staff-2").say(f"接 {waiting.id}")
    assert await _state(user.openid) == before


async def test_take_of_a_closed_ticket_changes_nothing(user, make_user, waiting):
    await Handoff.filter(id=waiting.id).update(status="closed")
    before = await _state(user.openid)
    assert "已经结束" in await make_user("o-staff-1").say(f"接 {waiting.id}")
    assert await _state(user.openid) == before


async def test_take_while_busy_with_another_ticket_changes_nothing(user, make_user, waiting):
    other = make_user("o-other")
    await other.say("人工")
    second = await Handoff.filter(openid="o-other").get()
    wang = make_user("o-staff-1")
    await wang.say(f"接 {second.id}")
    before = await _state(user.openid)
    assert "请先发送“结束”" in await wang.say(f"接 {waiting.id}")
    assert await _state(user.openid) == before


async def test_relay_after_losing_the_ticket_changes_nothing(app, user, make_user, waiting):
    await add_staff("王主任", "o-sup", supervisor=True, on_duty=False)
    wang = make_user("o-staff-1")
    await wang.say(f"接 {waiting.id}")
    await tick(app, waiting.due_at + timedelta(minutes=1))
    await make_user("o-sup").say(f"接 {waiting.id}")  # the supervisor takes over
    await user.say("菜单")
    before = await _state(user.openid)
    assert "没有发出" in await wang.say("请发身份证照片")
    assert await _state(user.openid) == before


async def test_end_and_cancel_by_staff_not_holding_the_ticket_change_nothing(
    user, make_user, waiting
):
    await make_user("o-staff-1").say(f"接 {waiting.id}")
    before = await _state(user.openid)
    zhao = make_user("o-staff-2")
    assert "没有" in await zhao.say("结束")
    assert await _state(user.openid) == before
    far = make_user("o-far")
    await far.say(f"接 {waiting.id}")
    await far.say("取消")
    assert await _state(user.openid) == before


async def test_a_permitted_take_still_brings_the_user_back(user, make_user, waiting):
    assert "已接待" in await make_user("o-staff-1").say(f"接 {waiting.id}")
    conv = await Conversation.get(openid=user.openid)
    assert (conv.flow, conv.data["handoff_id"]) == ("handoff", waiting.id)
