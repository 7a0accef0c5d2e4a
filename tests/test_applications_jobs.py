"""Scheduled watches: reminders before the materials deadline, the overdue flag, and the
decision-deadline alert to staff — run through the scheduler as in production."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import scheduler
from models.agent import Agent
from models.application import Application, Material
from models.outbox import OutboxMessage
from models.people import Staff
from tests.applications_support import agent_token, body, file, today

TZ = ZoneInfo("Asia/Shanghai")


def at(days: int, hh: int = 10, mm: int = 0) -> datetime:
    """A local time `days` after today (what the scheduler passes as `now`, in UTC)."""
    return datetime.combine(today() + timedelta(days=days), time(hh, mm), TZ)


async def test_materials_reminders_then_overdue_flag(app, fake_wechat):
    await Staff.create(name="李四", region="330602", openid="o-staff-1")
    token, agent = await agent_token(app, fake_wechat)
    await Agent.filter(id=agent.id).update(oa_openid="o-oa-agent-1")
    data = body(
        materials=[
            {"kind": "id_document", "status": "provided"},
            {"kind": "matter_evidence", "status": "missing"},
        ],
        missing_materials_acknowledged=True,
    )
    app_id = (await (await file(app, token, data)).json())["id"]

    await scheduler.tick(app.app, at(5))
    assert await OutboxMessage.filter(kind="reminder").count() == 0
    await scheduler.tick(app.app, at(12))  # 3 days before
    await scheduler.tick(app.app, at(12, 15))  # same day again: nothing new
    reminders = await OutboxMessage.filter(kind="reminder").order_by("id")
    assert [r.dedupe_key for r in reminders] == [f"reminder:materials-reminder:{app_id}:3"]
    assert "与所申请法律援助事项有关的材料" in reminders[0].payload["text"]
    assert reminders[0].recipient == "o-oa-agent-1"
    await scheduler.tick(app.app, at(14))  # 1 day before
    assert await OutboxMessage.filter(kind="reminder").count() == 2
    assert (await Application.get(id=app_id)).materials_overdue_at is None

    await scheduler.tick(app.app, at(16))  # the deadline has passed
    row = await Application.get(id=app_id)
    assert row.materials_overdue_at is not None
    overdue = await OutboxMessage.filter(dedupe_key__contains="materials-overdue").order_by("id")
    assert sorted(m.recipient for m in overdue) == ["o-oa-agent-1", "o-staff-1"]
    await scheduler.tick(app.app, at(17))
    assert await OutboxMessage.filter(dedupe_key__contains="materials-overdue").count() == 2


async def test_no_reminder_once_the_material_is_supplied(app, fake_wechat):
    token, agent = await agent_token(app, fake_wechat)
    await Agent.filter(id=agent.id).update(oa_openid="o-oa-agent-1")
    data = body(
        materials=[{"kind": "matter_evidence", "status": "missing"}],
        missing_materials_acknowledged=True,
    )
    app_id = (await (await file(app, token, data)).json())["id"]
    await Material.filter(application_id=app_id).update(status="provided")
    await scheduler.tick(app.app, at(12))
    await scheduler.tick(app.app, at(16))
    assert await OutboxMessage.filter(kind="reminder").count() == 0
    assert (await Application.get(id=app_id)).materials_overdue_at is None


async def test_staff_alerted_when_the_decision_is_due_within_24_hours(app, fake_wechat):
    await Staff.create(name="李四", region="330602", openid="o-staff-1")
    token, _ = await agent_token(app, fake_wechat)
    app_id = (await (await file(app, token)).json())["id"]
    decided_id = (await (await file(app, token)).json())["id"]
    await Application.filter(id=decided_id).update(status="granted")
    await scheduler.tick(app.app, at(6, 23, 30))  # more than 24 h before the end of day 7
    assert await OutboxMessage.filter(dedupe_key__contains="decision-due").count() == 0
    await scheduler.tick(app.app, at(7, 0, 20))
    await scheduler.tick(app.app, at(7, 9, 0))
    alerts = await OutboxMessage.filter(dedupe_key__contains="decision-due")
    assert [a.recipient for a in alerts] == ["o-staff-1"]  # once, for the undecided one only
    assert f"#{app_id}" in alerts[0].payload["text"]
