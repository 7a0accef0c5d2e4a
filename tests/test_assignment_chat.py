"""Handlers in WeChat: the assignment push, 1 accept / 2 conflict, 我的案件, the agreement watch,
and the assignment deadline watch."""

from __future__ import annotations

from datetime import timedelta

from models.application import Application
from models.assignment import Assignment
from models.pool import Handler, create_handler_invite
from tests.applications_support import REGION
from tests.assignment_support import Centre, filed, new_filer, policy_client
from tests.test_cases_support import add_staff, local, pushes_to, tick, today


async def bound_handler(c: Centre, make_user, org: int, name: str, openid: str):
    hid = await c.handler(org, name)
    code = await create_handler_invite(await Handler.get(id=hid))
    user = make_user(openid)
    assert "绑定成功" in await user.say(f"绑定 {code}")
    return hid, user


async def test_handler_accepts_in_chat(app, fake_wechat, make_user):
    c = await Centre.of(app)
    org = await c.org("甲律师事务所", phone="0575-8512345")
    _, lawyer = await bound_handler(c, make_user, org, "李一", "o-lawyer-1")
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    await c.decide(app_id, case_no="绍援2026-7")
    (push,) = await pushes_to("o-lawyer-1")
    assert "绍援2026-7" in push and "张*丰" in push and "0575-8512345" in push
    assert "张三丰" not in push and "赡养费" in push
    reply = await lawyer.say("1")
    assert "已接受指派" in reply
    (a,) = await c.assignments(app_id)
    assert a["status"] == "accepted" and a["accepted_at"]
    mine = await lawyer.say("我的案件")
    assert "绍援2026-7" in mine and "已接受" in mine
    detail = await lawyer.say("1")
    assert "委托协议" in detail
    assert "已登记" in await lawyer.say("1")
    assert (await Assignment.get(id=a["id"])).agreement_signed_at is not None
    assert "供法律援助承办人使用" in await make_user("o-nobody").say("我的案件")


async def test_conflict_reassigns_and_tells_the_centre(app, fake_wechat, make_user):
    c = await Centre.of(app)
    org = await c.org("甲律师事务所")
    first, lawyer = await bound_handler(c, make_user, org, "李一", "o-lawyer-1")
    second, other = await bound_handler(c, make_user, org, "李二", "o-lawyer-2")
    await add_staff("值班员", "o-staff-1", region=REGION)
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    await c.decide(app_id)
    assert "报告利益冲突" in (await pushes_to("o-lawyer-1"))[0]
    assert "原因" in await lawyer.say("2")
    assert "2到200" in await lawyer.say("无")
    assert "另行指派" in await lawyer.say("我曾代理对方当事人")
    items = await c.assignments(app_id)
    assert [(i["handler"]["id"], i["status"]) for i in items] == [
        (second, "assigned"),
        (first, "conflict"),
    ]
    assert items[1]["conflict_reason"] == "我曾代理对方当事人"
    alert = "\n".join(await pushes_to("o-staff-1"))
    assert "利益冲突" in alert and "李二" in alert
    assert "新指派案件" in (await pushes_to("o-lawyer-2"))[0]
    assert "已接受" in await other.say("接受")
    assert "没有承办中的案件" in await lawyer.say("我的案件")


async def test_busy_handler_answers_from_my_cases(app, fake_wechat, make_user):
    c = await Centre.of(app)
    org = await c.org("甲律师事务所")
    _, lawyer = await bound_handler(c, make_user, org, "李一", "o-lawyer-1")
    await lawyer.say("投诉")  # in the middle of another flow when the case arrives
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    await c.decide(app_id)
    assert "待答复" in await lawyer.say("我的案件")
    assert "接受指派" in await lawyer.say("1")
    assert "已接受" in await lawyer.say("1")


async def test_agreement_reminder_then_alert(app, fake_wechat, make_user):
    c = await Centre.of(app)
    org = await c.org("甲律师事务所")
    await bound_handler(c, make_user, org, "李一", "o-lawyer-1")
    await add_staff("值班员", "o-staff-1", region=REGION)
    token, _ = await new_filer(app, fake_wechat)
    await c.decide(await filed(app, token))
    a = await Assignment.first()
    assert a.agreement_due == today() + timedelta(days=5)
    await tick(app, local(a.agreement_due - timedelta(days=1), 9, 5))
    assert "提醒" in (await pushes_to("o-lawyer-1"))[-1]
    assert not any("委托协议" in p for p in await pushes_to("o-staff-1"))
    await tick(app, local(a.agreement_due + timedelta(days=1), 9, 5))
    assert "超过签订期限" in (await pushes_to("o-lawyer-1"))[-1]
    assert any("委托协议超期未签" in p for p in await pushes_to("o-staff-1"))


async def test_unassigned_grant_is_retried_then_alerted(
    app, aiohttp_client, settings, tmp_path, fake_wechat
):
    client = await policy_client(aiohttp_client, settings, tmp_path, assign_days=0)
    c = await Centre.of(client)
    await add_staff("值班员", "o-staff-1", region=REGION)
    token, _ = await new_filer(client, fake_wechat)
    app_id = await filed(client, token)
    await c.decide(app_id)  # no pool yet: nothing assigned, no alert yet
    assert await pushes_to("o-staff-1") == []
    decided = (await Application.get(id=app_id)).decided_at
    await tick(client, decided + timedelta(days=1, hours=1))
    assert any("指派超期" in p for p in await pushes_to("o-staff-1"))
    org = await c.org("甲律师事务所")
    hid = await c.handler(org, "李一")
    await tick(client, decided + timedelta(days=1, hours=2))
    assert (await c.assignments(app_id))[0]["handler"]["id"] == hid
