"""人工: a ticket, staff told at once, `接 <ticket>`, the relay both ways until `结束`, duty
credit, reply times and escalation; staff commands from anyone else are plain text."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from i18n import t
from models.handoff import Handoff, reply_due
from models.people import Staff
from models.policy import PRESETS
from tests.conftest import drain_outbox
from tests.test_cases_support import TZ, add_staff, image, pushes_to, sent_to, tick, voice


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"default_region": "611026"})


@pytest.fixture
async def staff(app, make_user):
    await add_staff("王芳", "o-staff-1")
    await add_staff("赵强", "o-staff-2")
    await add_staff("休息的人", "o-off", on_duty=False)
    await add_staff("王主任", "o-sup", supervisor=True, on_duty=False)
    return make_user("o-staff-1"), make_user("o-staff-2")


async def test_ticket_staff_told_taken_relayed_and_ended(app, user, staff, fake_wechat):
    wang, zhao = staff
    reply = await user.say("人工")
    h = await Handoff.get()
    assert f"服务编号 {h.id}" in reply and "前回复您" in reply
    await drain_outbox(app)
    assert f"接 {h.id}" in sent_to(fake_wechat, "o-staff-1")[0]
    assert sent_to(fake_wechat, "o-staff-2") and not sent_to(fake_wechat, "o-off")
    assert "收到" in await user.say("我想问一下欠薪怎么办")

    took = await wang.say(f"接 {h.id}")
    assert "已接待" in took and "欠薪怎么办" in took
    assert "已由王芳接待" in await zhao.say(f"接 {h.id}")
    assert "已发给工作人员" in await user.say("老板欠了我三个月工资")
    assert "已转给用户" in await wang.say("请问有劳动合同吗？1 有 2 没有")
    assert "已发给工作人员" in await user.say("2")  # digits are answers here, not the menu
    await drain_outbox(app)
    to_user = sent_to(fake_wechat, user.openid)
    assert "王芳正在为您服务" in to_user[0] and "有劳动合同吗" in to_user[1]
    to_staff = sent_to(fake_wechat, "o-staff-1")
    assert "三个月工资" in to_staff[-2] and to_staff[-1].endswith("用户：2")

    closed = await wang.say("结束")
    assert "本次回复 1 条" in closed and "本月您已办结咨询 1 次" in closed
    await drain_outbox(app)
    assert "已结束" in sent_to(fake_wechat, user.openid)[-1]
    h = await Handoff.get()
    assert (h.status, h.closed_by, h.replies) == ("closed", "staff", 1)
    # the user's next message is an ordinary one again
    reply = await user.say("谢谢")
    assert "本次人工服务已经结束" in reply and "请回复数字选择服务" in reply
    assert reply.endswith(t("menu.hint")) and t("flow.hint") not in reply
    assert await Handoff.all().count() == 1


async def test_user_ends_and_staff_is_told(app, user, staff, fake_wechat):
    wang, _ = staff
    await user.say("人工")
    h = await Handoff.get()
    await wang.say(f"接 {h.id}")
    assert "已取消「人工服务」" in await user.say("取消")
    assert (await Handoff.get()).closed_by == "user"
    await drain_outbox(app)
    assert "用户已结束" in sent_to(fake_wechat, "o-staff-1")[-1]
    assert "没有发出" in await wang.say("还在吗？")
    assert sent_to(fake_wechat, user.openid)[-1].startswith("工作人员王芳")  # nothing relayed


async def test_staff_commands_from_others_are_plain_text(user, staff):
    await user.say("人工")
    await user.say("结束")
    h = await Handoff.get()
    for text in (f"接 {h.id}", "结束"):
        reply = await user.say(text)
        assert "请回复数字选择服务" in reply and "已接待" not in reply
    assert (await Handoff.get()).status == "closed" and (await Handoff.get()).staff_id is None
    await user.say("投诉")  # inside a flow: the step answers it, like any other text
    assert "请回复 1–4 的数字" in await user.say(f"接 {h.id}")


async def test_staff_one_ticket_at_a_time_and_unknown_tickets(make_user, staff):
    wang, _ = staff
    a, b = make_user("o-a"), make_user("o-b")
    await a.say("人工")
    await b.say("人工")
    first, second = await Handoff.all().order_by("id")
    assert "没有编号为 999" in await wang.say("接 999")
    await wang.say(f"接 {first.id}")
    assert "请先发送“结束”" in await wang.say(f"接 {second.id}")
    assert (await Handoff.get(id=second.id)).status == "waiting"
    await wang.say("菜单")  # leaves the relay: 接 again resumes it
    assert "已接待" in await wang.say(f"接 {first.id}")
    assert "本月您已办结咨询 0 次" in await wang.say("结束")  # unanswered: no credit
    assert "已经结束" in await wang.say(f"接 {first.id}")


async def test_images_while_waiting_reach_the_staff_later(user, staff):
    wang, _ = staff
    await user.say("人工")
    await user.send(image(user.openid, 3))
    took = await wang.say(f"接 {(await Handoff.get()).id}")
    assert "p3.jpg" in took


async def test_a_user_who_left_the_chat_is_brought_back_when_staff_write(
    app, user, staff, fake_wechat
):
    wang, _ = staff
    await user.say("人工")
    await user.say("菜单")  # wandered off while waiting
    await wang.say(f"接 {(await Handoff.get()).id}")
    assert "已发给工作人员" in await user.say("我还在")
    await drain_outbox(app)
    assert sent_to(fake_wechat, "o-staff-1")[-1].endswith("用户：我还在")


async def test_asking_again_reuses_the_open_ticket(user, staff):
    await user.say("人工")
    await user.say("菜单")
    again = await user.say("人工")
    assert await Handoff.all().count() == 1
    h = await Handoff.get()
    assert f"编号 {h.id}）还在等待" in again and "已为您呼叫" not in again  # not a new call


async def test_end_after_leaving_the_chat_closes_the_open_ticket(user, staff):
    """A user who left 人工 for the menu can still end it with 结束 (the ticket stays open
    otherwise, and staff would take it for nobody)."""
    await user.say("人工")
    await user.say("菜单")
    assert "人工服务已结束" in await user.say("结束")
    h = await Handoff.get()
    assert (h.status, h.closed_by) == ("closed", "user")
    again = await user.say("结束")  # nothing open now: an ordinary word, the menu answers
    assert "人工服务已结束" not in again and await Handoff.all().count() == 1


async def test_a_spoken_end_ends_the_chat_in_it_and_from_the_menu(user, staff):
    """WeChat's speech recognition writes "结束。": it ends the chat like the typed word."""
    await user.say("人工")
    assert "人工服务已结束" in await user.send(voice(user.openid, "结束。"))
    await user.say("人工")
    await user.say("菜单")
    assert "人工服务已结束" in await user.send(voice(user.openid, "结束！"))
    assert await Handoff.filter(status="closed").count() == 2


async def test_end_in_another_flow_closes_the_ticket_and_keeps_the_flow(user, staff):
    from models.conversation import Conversation

    await user.say("人工")
    await user.say("菜单")
    await user.say("4")  # 投诉: its first step is a choice
    flow = (await Conversation.get(openid=user.openid)).flow
    assert flow is not None
    reply = await user.say("结束")
    assert "人工服务已结束" in reply
    assert (await Handoff.get()).status == "closed"
    assert (await Conversation.get(openid=user.openid)).flow == flow  # still where it was


def test_reply_times_day_and_night():
    policy = PRESETS["national"]

    def due(hh, mm):
        opened = datetime(2026, 5, 6, hh, mm, tzinfo=TZ)
        return reply_due(opened, policy, "Asia/Shanghai").astimezone(TZ)

    assert due(8, 30) == datetime(2026, 5, 6, 8, 33, tzinfo=TZ)
    assert due(21, 59) == datetime(2026, 5, 6, 22, 2, tzinfo=TZ)
    assert due(22, 0) == datetime(2026, 5, 7, 10, 0, tzinfo=TZ)
    assert due(2, 15) == datetime(2026, 5, 6, 10, 0, tzinfo=TZ)
    assert due(8, 29).time() == time(10, 0)


async def test_overdue_tickets_escalate_to_supervisors_once(app, user, staff, fake_wechat):
    await user.say("人工")
    h = await Handoff.get()
    await tick(app, h.due_at - timedelta(seconds=30))
    await drain_outbox(app)
    assert not [m for m in sent_to(fake_wechat, "o-sup") if "人工服务超时" in m]
    await tick(app, h.due_at + timedelta(minutes=1))
    await tick(app, h.due_at + timedelta(minutes=5))
    await drain_outbox(app)
    [alert] = [m for m in sent_to(fake_wechat, "o-sup") if "人工服务超时" in m]
    assert "人工服务超时" in alert and f"接 {h.id}" in alert
    assert not [m for m in sent_to(fake_wechat, "o-staff-1") if "人工服务超时" in m]


async def test_a_supervisor_takes_over_an_overdue_ticket(app, user, staff, make_user):
    wang, _ = staff
    await user.say("人工")
    h = await Handoff.get()
    await wang.say(f"接 {h.id}")
    await tick(app, h.due_at + timedelta(minutes=1))  # taken, but nobody replied in time
    assert "已接待" in await make_user("o-sup").say(f"接 {h.id}")
    assert "没有发出" in await wang.say("在的")
    assert (await Handoff.get()).staff_id == (await Staff.get(openid="o-sup")).id


async def test_nobody_on_duty_tells_the_user_about_12348(app, user):
    reply = await user.say("人工")
    assert "12348" in reply and "前回复您" not in reply  # no reply time nobody will keep
    assert await pushes_to("o-anyone") == []


async def test_take_the_next_ticket_right_after_the_user_ended_this_one(make_user, staff):
    wang, _ = staff
    a, b = make_user("o-a"), make_user("o-b")
    await a.say("人工")
    await b.say("人工")
    first, second = await Handoff.all().order_by("id")
    await wang.say(f"接 {first.id}")
    await a.say("结束")  # the user ends the chat while staff are still in its relay
    took = await wang.say(f"接 {second.id}")
    assert "已接待" in took and f"{second.id}" in took and "已经结束" not in took
    h = await Handoff.get(id=second.id)
    assert h.status == "taken" and h.staff_id is not None


async def test_a_staff_member_disabled_in_the_console_hands_their_chat_back(
    app, user, staff, fake_wechat
):
    """A supervisor takes a staff member off the rota while they hold a chat: the chat goes
    back to waiting, the user is told, the staff on duty are called, and nothing the user
    writes reaches the disabled member any more."""
    from tests.console_support import csrf_of, sign_in

    wang, zhao = staff
    await user.say("人工")
    h = await Handoff.get()
    await wang.say(f"接 {h.id}")
    await drain_outbox(app)
    told_zhao = len(sent_to(fake_wechat, "o-staff-2"))
    await sign_in(app, "o-sup")
    csrf = await csrf_of(app, "/console/staff")
    member = await Staff.get(openid="o-staff-1")
    resp = await app.post(
        "/console/staff", data={"csrf": csrf, "action": "disable", "id": str(member.id)}
    )
    assert resp.status == 200
    h = await Handoff.get()
    assert (h.status, h.staff_id) == ("waiting", None)
    await drain_outbox(app)
    assert "已转给其他工作人员" in sent_to(fake_wechat, user.openid)[-1]
    assert f"接 {h.id}" in sent_to(fake_wechat, "o-staff-2")[told_zhao]  # called again
    to_wang = len(sent_to(fake_wechat, "o-staff-1"))
    assert "收到" in await user.say("还有人吗")  # kept for the next one
    assert "不在人工服务值班名单" in await wang.say("我还在")
    await drain_outbox(app)
    assert len(sent_to(fake_wechat, "o-staff-1")) == to_wang  # nothing relayed to them
    assert "还有人吗" in await zhao.say(f"接 {h.id}")


async def test_a_message_to_a_disabled_staff_member_puts_the_chat_back_in_the_queue(
    app, user, staff, fake_wechat
):
    """Disabled some other way (the CLI in another process, the database) while holding a
    chat: the user's next message is kept for the others instead of relayed to them."""
    wang, zhao = staff
    await user.say("人工")
    h = await Handoff.get()
    await wang.say(f"接 {h.id}")
    await Staff.filter(openid="o-staff-1").update(active=False)
    await drain_outbox(app)
    to_wang, to_zhao = (
        len(sent_to(fake_wechat, "o-staff-1")),
        len(sent_to(fake_wechat, "o-staff-2")),
    )
    reply = await user.say("工作人员还在吗")
    assert "已转给其他工作人员" in reply
    h = await Handoff.get()
    assert (h.status, h.staff_id) == ("waiting", None)
    assert h.messages[-1]["text"] == "工作人员还在吗"
    await drain_outbox(app)
    assert len(sent_to(fake_wechat, "o-staff-1")) == to_wang
    assert f"接 {h.id}" in sent_to(fake_wechat, "o-staff-2")[to_zhao]
    assert "工作人员还在吗" in await zhao.say(f"接 {h.id}")
