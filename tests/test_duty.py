"""Duty credit counts handled consultations per person per month, not relayed messages
(DOMAIN §4, Shaoxing: 30 answered calls = one duty day at coefficient 1.0)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.handoff import Handoff
from tests.test_cases_support import add_staff, center_key


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"default_region": "611026"})


async def _ticket(staff_id: int, closed: datetime, *, answered: bool = True) -> None:
    await Handoff.create(
        openid="o-u",
        region="611026",
        opened_at=closed,
        due_at=closed,
        staff_id=staff_id,
        status="closed",
        closed_at=closed,
        closed_by="staff",
        replies=7 if answered else 0,
        first_reply_at=closed if answered else None,
    )


async def test_chat_consultations_count_once_however_many_messages(app, user, make_user):
    await add_staff("王芳", "o-staff")
    wang = make_user("o-staff")
    await user.say("人工")
    h = await Handoff.get()
    await wang.say(f"接 {h.id}")
    for i in range(5):
        await wang.say(f"第{i}条回复")
    assert "本月您已办结咨询 1 次" in await wang.say("结束")


async def test_duty_endpoint_lists_each_person_for_the_month(app):
    wang, zhao = await add_staff("王芳", "o-w"), await add_staff("赵强", "o-z")
    await add_staff("外地", "o-far", region="330602")
    for _ in range(45):
        await _ticket(wang.id, datetime(2026, 10, 15, 4, tzinfo=UTC))
    await _ticket(wang.id, datetime(2026, 10, 20, 4, tzinfo=UTC), answered=False)  # no reply
    # 31 October 23:30 in Shanghai is still October; 1 November 00:30 is November
    await _ticket(zhao.id, datetime(2026, 10, 31, 15, 30, tzinfo=UTC))
    await _ticket(zhao.id, datetime(2026, 10, 31, 16, 30, tzinfo=UTC))
    key = await center_key()
    resp = await app.get("/api/v1/center/duty?month=2026-10", headers=key)
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["month"], body["consultations_per_day"], body["coefficient"]) == (
        "2026-10",
        30,
        1.0,
    )
    got = {p["name"]: (p["consultations"], p["duty_days"], p["coefficient"]) for p in body["items"]}
    assert got == {"王芳": (45, 1.5, 1.0), "赵强": (1, 0.03, 1.0)}
    nov = await (await app.get("/api/v1/center/duty?month=2026-11", headers=key)).json()
    assert {p["name"]: p["consultations"] for p in nov["items"]} == {"王芳": 0, "赵强": 1}


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-10", "October"])
async def test_duty_month_must_be_yyyy_mm(app, month):
    resp = await app.get(f"/api/v1/center/duty?month={month}", headers=await center_key())
    assert resp.status == 422 and "month" in (await resp.json())["error"]["fields"]
