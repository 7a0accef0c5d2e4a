"""Cases carry their origin (申请类 / 通知类); the 回访率 and its target count application cases
only, as Zhashui does (DOMAIN §2)."""

from __future__ import annotations

from datetime import timedelta

from handlers.records.digest import coverage_between, coverage_by_day
from models.callback import Callback
from tests.test_cases_support import REGION, case_body, center_key, put_case, today

STATS = "/api/v1/center/stats/callbacks"


async def test_notification_cases_are_outside_the_callback_rate(app):
    key = await center_key()
    assert (await put_case(app, key, "申-1", expect=200))["origin"] == "application"
    await put_case(app, key, "申-2", expect=200, origin="application")
    assert (await put_case(app, key, "通-1", expect=200, origin="notification"))[
        "origin"
    ] == "notification"
    await put_case(app, key, "通-2", expect=200, origin="notification")
    await Callback.filter(case__case_no__in=["申-1", "通-1", "通-2"]).update(
        status="completed", answered_at=today()
    )
    span = {"from": (today() - timedelta(days=3)).isoformat(), "to": today().isoformat()}
    stats = await (await app.get(STATS, params=span, headers=key)).json()
    assert (
        stats["closed_cases"],
        stats["completed"],
        stats["coverage"],
        stats["notification_cases"],
    ) == (2, 1, 0.5, 2)
    first, last = today() - timedelta(days=3), today()
    assert coverage_between(await coverage_by_day(REGION, first, last), first, last) == (2, 1)


async def test_origin_is_checked(app):
    key = await center_key()
    resp = await app.put("/api/v1/center/cases/X-1", headers=key, json=case_body(origin="court"))
    assert resp.status == 422 and "origin" in (await resp.json())["error"]["fields"]
