"""Callbacks on the centre's side: the scheduler's invitations and phone worklist, phone and
visit results, results since a time, pagination and the coverage figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.callback import Callback
from models.case import Case
from tests.conftest import drain_outbox
from tests.test_cases_support import (
    OTHER_REGION,
    add_staff,
    center_key,
    local,
    put_case,
    sent_to,
    tick,
    today,
)

LIST = "/api/v1/center/callbacks"
RESULT = {
    "channel": "phone",
    "called_by": "刘干事",
    "fee_charged": False,
    "negligent": False,
    "satisfied": True,
    "comments": "很好",
}


async def closed_case(app, key, case_no="C-1", days_ago=10, openid=None) -> Callback:
    await put_case(
        app,
        key,
        case_no=case_no,
        expect=200,
        closed_on=(today() - timedelta(days=days_ago)).isoformat(),
    )
    if openid:
        await Case.filter(case_no=case_no).update(openid=openid)
    return await Callback.get(case__case_no=case_no)


async def test_bound_beneficiary_is_invited_once_when_due_in_daytime(app, fake_wechat):
    key = await center_key()
    cb = await closed_case(app, key, days_ago=0, openid="o-old-man")
    due = cb.due_at
    assert await tick(app, due - timedelta(minutes=30))  # not due yet: nothing
    assert await Callback.get(id=cb.id).values_list("status", flat=True) == "scheduled"
    await tick(app, due + timedelta(minutes=1))
    await tick(app, due + timedelta(minutes=20))  # a later run sends nothing again
    await drain_outbox(app)
    [msg] = sent_to(fake_wechat, "o-old-man")
    assert "劳动报酬纠纷" in msg and "回访" in msg
    assert (await Callback.get(id=cb.id)).status == "invited"


async def test_no_invitations_at_night(app):
    key = await center_key()
    cb = await closed_case(app, key, days_ago=5, openid="o-night")
    await tick(app, local(today(), 23, 30))
    assert (await Callback.get(id=cb.id)).status == "scheduled"
    await tick(app, local(today() + timedelta(days=1), 9, 0))
    assert (await Callback.get(id=cb.id)).status == "invited"


async def test_unanswered_callbacks_go_to_the_phone_worklist(app):
    key = await center_key()
    fresh = await closed_case(app, key, case_no="C-fresh", days_ago=1)
    old = await closed_case(app, key, case_no="C-old", days_ago=9, openid="o-silent")
    await tick(app, datetime.now(UTC))
    resp = await app.get(LIST, params={"status": "pending_phone"}, headers=key)
    items = (await resp.json())["items"]
    assert [i["case_no"] for i in items] == ["C-old"]
    assert items[0]["beneficiary"] == "张*丰" and "phone" not in items[0]
    assert (await Callback.get(id=fresh.id)).status == "scheduled"
    assert (await Callback.get(id=old.id)).status == "pending_phone"


async def test_a_closed_case_without_callback_gets_one_from_the_job(app):
    key = await center_key()
    cb = await closed_case(app, key)
    await cb.delete()
    await tick(app, datetime.now(UTC))
    assert await Callback.filter(case__case_no="C-1").count() == 1


async def test_phone_result_is_recorded_once_and_alerts_when_bad(app, fake_wechat):
    await add_staff("王主任", "o-sup", supervisor=True)
    key = await center_key()
    cb = await closed_case(app, key)
    bad = {**RESULT, "channel": "visit", "negligent": True, "negligent_details": "打电话不接"}
    resp = await app.post(f"{LIST}/{cb.id}/result", json=bad, headers=key)
    assert resp.status == 200, await resp.text()
    item = await resp.json()
    assert (item["channel"], item["called_by"], item["negligent"]) == ("visit", "刘干事", True)
    assert item["status"] == "completed" and item["flagged"]
    resp = await app.post(f"{LIST}/{cb.id}/result", json=RESULT, headers=key)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "callback_completed"
    assert (await Callback.get(id=cb.id)).channel == "visit"
    await drain_outbox(app)
    [alert] = sent_to(fake_wechat, "o-sup")
    assert "打电话不接" in alert and "走访" in alert


async def test_result_input_is_checked(app):
    key, theirs = await center_key(), await center_key(OTHER_REGION)
    cb = await closed_case(app, key)
    for body in (
        {**RESULT, "channel": "wechat"},
        {**RESULT, "satisfied": "maybe"},
        {**RESULT, "called_by": ""},
        {k: v for k, v in RESULT.items() if k != "negligent"},
        {**RESULT, "answered_at": "2999-01-01T00:00:00+08:00"},
        {**RESULT, "answered_at": "2026-01-01T00:00:00"},
    ):
        resp = await app.post(f"{LIST}/{cb.id}/result", json=body, headers=key)
        assert resp.status == 422, body
    assert (await app.post(f"{LIST}/{cb.id}/result", json=RESULT, headers=theirs)).status == 404
    assert (await app.post(f"{LIST}/x/result", json=RESULT, headers=key)).status == 404
    assert (await app.post(f"{LIST}/99999/result", json=RESULT, headers=key)).status == 404
    assert (await Callback.get(id=cb.id)).answered_at is None


async def test_list_since_status_and_pagination(app):
    key = await center_key()
    cbs = [await closed_case(app, key, case_no=f"C-{n}") for n in range(5)]
    before = datetime.now(UTC) - timedelta(seconds=1)
    await Callback.all().update(updated_at=before - timedelta(hours=1))  # written long ago
    for cb in cbs[:3]:  # answered since
        assert (await app.post(f"{LIST}/{cb.id}/result", json=RESULT, headers=key)).status == 200
    seen, cursor = [], None
    while True:
        params = {
            "since": before.isoformat(),
            "limit": "2",
            **({"cursor": cursor} if cursor else {}),
        }
        page = await (await app.get(LIST, params=params, headers=key)).json()
        seen += [i["case_no"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == ["C-0", "C-1", "C-2"]
    everything = await (await app.get(LIST, headers=key)).json()
    assert len(everything["items"]) == 5
    edge = await app.get(LIST, params={"since": "0001-01-01T00:00:00+01:00"}, headers=key)
    assert edge.status == 200 and len((await edge.json())["items"]) == 5
    for bad in ({"status": "lost"}, {"limit": "0"}, {"since": "yesterday"}, {"cursor": "x"}):
        assert (await app.get(LIST, params=bad, headers=key)).status == 422
    other = await center_key(OTHER_REGION)
    assert (await (await app.get(LIST, headers=other)).json())["items"] == []


async def test_stats_period_and_counts(app):
    key = await center_key()
    cbs = [await closed_case(app, key, case_no=f"C-{n}", days_ago=n + 1) for n in range(4)]
    await app.post(f"{LIST}/{cbs[0].id}/result", json=RESULT, headers=key)
    await app.post(f"{LIST}/{cbs[3].id}/result", json={**RESULT, "satisfied": False}, headers=key)
    url = "/api/v1/center/stats/callbacks"
    span = {"from": (today() - timedelta(days=2)).isoformat(), "to": today().isoformat()}
    stats = await (await app.get(url, params=span, headers=key)).json()
    assert stats == {
        "closed_cases": 2,
        "completed": 1,
        "coverage": 0.5,
        "target": 0.0,
        "satisfied_share": 1.0,
        "flagged": 0,
        "notification_cases": 0,
    }
    empty = await (
        await app.get(url, params={"from": "2020-01-01", "to": "2020-12-31"}, headers=key)
    ).json()
    assert empty["closed_cases"] == 0 and empty["coverage"] is None
    resp = await app.get(url, params={"from": "2026-02-01", "to": "2026-01-01"}, headers=key)
    assert resp.status == 422 and "from" in (await resp.json())["error"]["fields"]
    assert (await app.get(url, params={"from": "soon"}, headers=key)).status == 422
