"""Staff console pages: each action does what the API does, within the staff member's region,
with personal data masked until a "show" that is audited."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import scheduler
from bot.auth import create_center_key
from bot.keys import policy_key
from models.agent import Agent
from models.application import Application, Material
from models.calendar import local_today
from models.callback import Callback
from models.case import Case
from models.complaint import Complaint
from models.console import StaffAudit
from models.followup import CallbackFollowUp
from models.handoff import Handoff
from models.outbox import OutboxMessage
from models.people import Staff
from tests.applications_support import agent_token, bearer, file
from tests.console_support import csrf_of, sign_in
from tests.test_applications_jobs import at
from tests.test_callback_api import closed_case
from tests.test_cases_support import OTHER_REGION, REGION, add_staff, center_key, tick

APP_REGION = "330602"  # applications_support files in 越城区


async def staff_in(
    app, region: str = REGION, *, supervisor: bool = False, openid: str = "o-staff-1"
):
    member = await add_staff("赵六", openid, region=region, supervisor=supervisor)
    await sign_in(app, openid)
    return member


async def test_decide_an_application_tells_the_agent(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    app_id = (await (await file(app, token)).json())["id"]
    await staff_in(app, APP_REGION)
    queue = await (await app.get("/console/applications")).text()
    assert f"/console/applications/{app_id}" in queue and "张*丰" in queue
    page = await (await app.get(f"/console/applications/{app_id}")).text()
    assert "张*丰" in page and "13812345678" not in page and "138****5678" in page
    csrf = await csrf_of(app, f"/console/applications/{app_id}")
    bad = await app.post(
        f"/console/applications/{app_id}/decision",
        data={"csrf": csrf, "decision": "refused", "reason": ""},
    )
    assert bad.status == 422 and "理由" in await bad.text()
    resp = await app.post(
        f"/console/applications/{app_id}/decision",
        data={"csrf": csrf, "decision": "granted", "case_no": "越法援2026-7"},
        allow_redirects=False,
    )
    assert resp.status == 302
    row = await Application.get(id=app_id)
    assert row.status == "granted" and row.case_no == "越法援2026-7"
    pushes = await OutboxMessage.filter(kind__contains="decision").count()
    assert pushes >= 1
    assert await StaffAudit.filter(action="decide", record=f"application:{app_id}").exists()
    again = await app.post(
        f"/console/applications/{app_id}/decision",
        data={"csrf": csrf, "decision": "refused", "reason": "不符合"},
    )
    assert again.status == 409


async def test_need_materials_owes_the_ticked_items_as_the_api_does(app, fake_wechat):
    """The ticked items become owed materials with the policy's deadline (the API's decision
    with `materials`): the agent's push and checklist name them, the reminders chase them."""
    token, agent = await agent_token(app, fake_wechat)
    await Agent.filter(id=agent.id).update(oa_openid="o-oa-agent-1")
    app_id = (await (await file(app, token)).json())["id"]
    await staff_in(app, APP_REGION)
    csrf = await csrf_of(app, f"/console/applications/{app_id}")
    empty = await app.post(
        f"/console/applications/{app_id}/decision",
        data={"csrf": csrf, "decision": "need_materials"},
    )
    assert empty.status == 422 and "请勾选需要补充的材料" in await empty.text()
    resp = await app.post(
        f"/console/applications/{app_id}/decision",
        data={
            "csrf": csrf,
            "decision": "need_materials",
            "item_id_document": "1",
            "item_exemption_proof": "1",
            "reason": "户口本需有首页",
        },
        allow_redirects=False,
    )
    assert resp.status == 302
    row = await Application.get(id=app_id)
    days = app.app[policy_key].materials_due_days
    assert row.status == "need_materials" and row.decision_reason == "户口本需有首页"
    assert row.materials_due == local_today() + timedelta(days=days)
    assert await Material.owed_kinds(app_id) == ["id_document", "exemption_proof"]

    page = await (await app.get(f"/console/applications/{app_id}")).text()
    missing = page.split("缺少：")[1].split("</p>")[0]
    assert "身份证明" in missing and row.materials_due.isoformat() in missing
    en = await (
        await app.get(
            "/console/lang", params={"to": "en", "next": f"/console/applications/{app_id}"}
        )
    ).text()
    assert "Proof of identity, Proof of exemption" in en  # English commas, not 、
    await app.get("/console/lang", params={"to": "zh_CN", "next": "/console/"})

    [push] = await OutboxMessage.filter(recipient="o-oa-agent-1", kind="decision")
    assert (
        "需要补充材料：身份证明、免予核查经济困难状况的证明材料；户口本需有首页"
        in (push.payload["text"])
    )
    assert f"请于{row.materials_due.isoformat()}前补齐" in push.payload["text"]
    view = await (await app.get(f"/api/v1/applications/{app_id}", headers=bearer(token))).json()
    assert view["missing_materials"] == ["id_document", "exemption_proof"]

    await scheduler.tick(app.app, at(days - 3))  # the materials job: 3 days before the deadline
    [reminder] = await OutboxMessage.filter(recipient="o-oa-agent-1", kind="reminder")
    assert "身份证明" in reminder.payload["text"]


async def test_the_api_asks_for_materials_by_kind(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    app_id = (await (await file(app, token)).json())["id"]
    key = {"X-Api-Key": await create_center_key(APP_REGION)}
    url = f"/api/v1/center/applications/{app_id}/decision"
    unknown = await app.post(
        url, headers=key, json={"decision": "need_materials", "materials": ["passport"]}
    )
    assert unknown.status == 422
    assert "passport" in (await unknown.json())["error"]["fields"]["materials"]
    granted = await app.post(
        url, headers=key, json={"decision": "granted", "materials": ["id_document"]}
    )
    assert granted.status == 422 and "materials" in (await granted.json())["error"]["fields"]
    assert (await Application.get(id=app_id)).status == "received"
    ok = await app.post(
        url,
        headers=key,
        json={"decision": "need_materials", "materials": ["matter_evidence", "matter_evidence"]},
    )
    assert ok.status == 200
    listed = await (await app.get("/api/v1/center/applications", headers=key)).json()
    [item] = [i for i in listed["items"] if i["id"] == app_id]
    assert item["missing_materials"] == ["matter_evidence"] and item["materials_due"]


async def test_reveal_is_audited_and_other_regions_are_invisible(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    app_id = (await (await file(app, token)).json())["id"]
    await staff_in(app, OTHER_REGION if OTHER_REGION != APP_REGION else REGION)
    assert (await app.get(f"/console/applications/{app_id}")).status == 404
    assert (
        f"/console/applications/{app_id}"
        not in await (await app.get("/console/applications")).text()
    )
    await add_staff("钱七", "o-staff-2", region=APP_REGION)
    app.session.cookie_jar.clear()
    await sign_in(app, "o-staff-2")
    csrf = await csrf_of(app, f"/console/applications/{app_id}")
    resp = await app.post(
        f"/console/applications/{app_id}/reveal", data={"csrf": csrf, "field": "phone"}
    )
    assert "13812345678" in await resp.text()
    [line] = await StaffAudit.filter(action="reveal_phone").select_related("staff")
    assert line.staff.name == "钱七" and line.record == f"application:{app_id}"
    assert line.at is not None


async def test_record_a_phone_callback_and_follow_up_a_flag(app):
    key = await center_key()
    cb = await closed_case(app, key, case_no="C-9", days_ago=9)
    await tick(app, datetime.now(UTC))
    await staff_in(app)
    worklist = await (await app.get("/console/callbacks")).text()
    assert "C-9" in worklist and "张*丰" in worklist
    csrf = await csrf_of(app, f"/console/callbacks/{cb.id}")
    shown = await app.post(f"/console/callbacks/{cb.id}/reveal", data={"csrf": csrf})
    assert 'href="tel:13812345678"' in await shown.text()
    incomplete = await app.post(
        f"/console/callbacks/{cb.id}/result", data={"csrf": csrf, "channel": "phone"}
    )
    assert incomplete.status == 422
    resp = await app.post(
        f"/console/callbacks/{cb.id}/result",
        data={
            "csrf": csrf,
            "channel": "phone",
            "called_by": "赵六",
            "fee_charged": "yes",
            "fee_details": "要了两百元",
            "negligent": "no",
            "satisfied": "no",
            "comments": "",
        },
    )
    assert resp.status == 200 and "回访已保存" in await resp.text()
    items = (await (await app.get("/api/v1/center/callbacks", headers=key)).json())["items"]
    assert items[0]["channel"] == "phone" and items[0]["flagged"] is True
    flagged = await (await app.get("/console/callbacks?tab=flagged")).text()
    assert "C-9" in flagged
    await app.post(
        f"/console/callbacks/{cb.id}/followup",
        data={
            "csrf": csrf,
            "kind": "visit",
            "note": "走访核实，确有收费",
            "fee_charged": "yes",
            "negligent": "no",
            "satisfied": "no",
            "resolved": "1",
        },
    )
    [visit] = await CallbackFollowUp.filter(callback_id=cb.id)
    assert visit.kind == "visit" and visit.fee_charged is True and visit.by == "赵六"
    first = await Callback.get(id=cb.id)
    assert first.channel == "phone" and first.fee_details == "要了两百元"  # kept as answered
    docx = await app.get(f"/console/callbacks/{cb.id}/form.docx")
    assert docx.status == 200 and (await docx.read())[:2] == b"PK"


async def test_accept_a_complaint_tells_the_complainant(app, user):
    await add_staff("局长", "o-bureau-0")  # gives the complainant's region
    await user.say("投诉 承办律师三个月没有联系我，也不接电话")
    c = await Complaint.get(openid=user.openid)
    await staff_in(app, c.region)
    listing = await (await app.get("/console/complaints")).text()
    assert c.ticket in listing
    page = await (await app.get(f"/console/complaints/{c.ticket}")).text()
    assert "受理" in page and "投诉人将收到" in page
    csrf = await csrf_of(app, f"/console/complaints/{c.ticket}")
    bad = await app.post(
        f"/console/complaints/{c.ticket}/step",
        data={"csrf": csrf, "status": "concluded", "result": "x"},
    )
    assert bad.status == 409
    resp = await app.post(
        f"/console/complaints/{c.ticket}/step", data={"csrf": csrf, "status": "accepted"}
    )
    assert resp.status == 200 and "已受理" in await resp.text()
    assert (await Complaint.get(id=c.id)).status == "accepted"
    assert await OutboxMessage.filter(recipient=user.openid, kind="complaint").exists()


async def test_take_a_handoff_from_the_console(app, user):
    member = await add_staff("赵六", "o-staff-1")  # the only region: tickets go there
    await user.say("人工")
    await user.say("我想问问离婚的事")
    h = await Handoff.get(openid=user.openid)
    assert h.region == member.region
    await sign_in(app, "o-staff-1")
    waiting = await (await app.get("/console/handoffs")).text()
    assert f"/console/handoffs/{h.id}" in waiting
    assert "离婚" in await (await app.get(f"/console/handoffs/{h.id}")).text()
    csrf = await csrf_of(app, f"/console/handoffs/{h.id}")
    resp = await app.post(f"/console/handoffs/{h.id}/take", data={"csrf": csrf})
    assert resp.status == 200 and "离婚" in await resp.text()
    taken = await Handoff.get(id=h.id)
    assert taken.staff_id == member.id and taken.status == "taken"
    # the user hears who took it, as after 接 N in chat; the staff member's chat now relays
    assert await OutboxMessage.filter(recipient=user.openid, kind="handoff").exists()
    assert await OutboxMessage.filter(recipient="o-staff-1", kind="handoff").exists()


async def test_roles_limit_pages(app):
    await staff_in(app)
    assert (await app.get("/console/staff")).status == 403
    assert (await app.get("/console/audit")).status == 403
    app.session.cookie_jar.clear()
    await add_staff("孙八", "o-boss", supervisor=True)
    await sign_in(app, "o-boss")
    page = await (await app.get("/console/staff")).text()
    assert "赵六" in page and "孙八" in page
    csrf = await csrf_of(app, "/console/staff")
    await app.post(
        "/console/staff", data={"csrf": csrf, "action": "add", "name": "周九", "openid": "o-new"}
    )
    assert (await Staff.get(openid="o-new")).region == REGION
    assert (await app.get("/console/audit")).status == 200


async def test_records_download_and_retry(app):
    await staff_in(app)
    today = datetime.now(UTC).date().isoformat()
    resp = await app.get(
        "/console/records/export", params={"kind": "callbacks", "from": "2026-01-01", "to": today}
    )
    assert resp.status == 200 and (await resp.read())[:2] == b"PK"
    bad = await app.get(
        "/console/records/export",
        params={"kind": "callbacks", "from": "2026-02-01", "to": "2026-01-01"},
    )
    assert bad.status == 422
    row = await OutboxMessage.create(
        channel="wechat_text",
        recipient="o-x",
        dedupe_key="k1",
        kind="alert",
        region=REGION,
        payload={"text": "x"},
        status="failed",
        attempts=8,
        last_error="43101",
        next_attempt_at=datetime.now(UTC),
    )
    page = await (await app.get("/console/records")).text()
    assert "43101" in page
    csrf = await csrf_of(app, "/console/records")
    resp = await app.post(f"/console/records/outbox/{row.id}/retry", data={"csrf": csrf})
    assert resp.status == 200
    assert (await OutboxMessage.get(id=row.id)).status == "pending"


async def test_today_shows_the_digest_figures_and_charts(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    for _ in range(2):
        await file(app, token)
    await staff_in(app, APP_REGION)
    page = await (await app.get("/console/")).text()
    assert page.count("<svg") == 6
    new = page.split("新申请")[0].rsplit("<b>", 1)[1]
    assert new.startswith("2</b>")
    assert "近 12 周" in page


async def test_the_weekly_series_count_in_the_database(app, fake_wechat, user):
    from handlers.console import charts
    from models.calendar import local_today

    token, _ = await agent_token(app, fake_wechat)
    app_id = (await (await file(app, token)).json())["id"]
    await Application.filter(id=app_id).update(decided_at=datetime.now(UTC), status="granted")
    key = await center_key()
    cb = await closed_case(app, key, case_no="C-1", days_ago=1)
    await closed_case(app, key, case_no="C-2", days_ago=2)
    await Callback.filter(id=cb.id).update(
        status="completed", answered_at=datetime.now(UTC), satisfied=True
    )
    today = local_today()
    weeks = charts.Weeks(today, "Asia/Shanghai")
    apps = await charts.applications(APP_REGION, weeks, today)
    assert apps["received"][-1] == 1 and sum(apps["received"]) == 1
    assert apps["decided"][-1] == 1 and sum(apps["overdue"]) == 0
    cbs = await charts.callbacks(REGION, weeks)
    closed_week = weeks.index(today - timedelta(days=1))
    assert cbs["satisfaction"][-1] == 1.0
    assert sum(cbs["coverage"]) > 0 and cbs["coverage"][closed_week] in (0.5, 1.0)
    await add_staff("赵六", "o-staff-1")
    await user.say("人工")
    ho = await charts.handoffs(REGION, weeks, app.app[policy_key])
    assert ho["late"] == [0.0] * charts.WEEKS


async def test_the_handoff_chart_shows_what_the_reply_time_rule_asks(app):
    """Per week: the share answered within the limit (day: 3 minutes; night: by 10:00), and
    the median and 90th percentile of the day tickets' minutes to the first reply."""
    from handlers.console import charts

    tz = ZoneInfo("Asia/Shanghai")
    today = local_today()
    now = datetime.now(UTC)

    async def ticket(opened: datetime, due: datetime, reply: datetime | None) -> None:
        await Handoff.create(
            openid="o-u", region=REGION, opened_at=opened, due_at=due, first_reply_at=reply
        )

    nine = datetime.combine(today, time(9), tz)
    for minutes in range(1, 11):  # day tickets answered after 1…10 minutes; 3 within the limit
        await ticket(nine, nine + timedelta(minutes=3), nine + timedelta(minutes=minutes))
    two = datetime.combine(today, time(2), tz)  # a night ticket answered before 10:00: on time
    await ticket(
        two, datetime.combine(today, time(10), tz), datetime.combine(today, time(9, 50), tz)
    )
    await ticket(now - timedelta(hours=2), now - timedelta(hours=1), None)  # past due, unanswered
    await ticket(now, now + timedelta(hours=1), None)  # not due yet: not counted
    ho = await charts.handoffs(REGION, charts.Weeks(today, "Asia/Shanghai"), app.app[policy_key])
    assert ho["share"][-1] == 4 / 12 and ho["late"][-1] == 8
    assert (ho["p50"][-1], ho["p90"][-1]) == (5.0, 9.0)
    assert ho["share"][0] is None and ho["p50"][0] is None  # a week without tickets: no bar
    await staff_in(app)
    page = await (await app.get("/console/")).text()
    assert "人工在时限内首次回复的比例" in page and "中位数" in page
    assert f"{charts.Weeks(today, 'Asia/Shanghai').labels[-1]}: 33%" in page


async def test_the_city_bureau_decides_the_countys_complaints(app, user):
    await add_staff("赵六", "o-staff-1")  # the county centre: gives the complainant's region
    await user.say("投诉 承办律师三个月没有联系我，也不接电话")
    c = await Complaint.get(openid=user.openid)
    await Staff.create(name="钱局", region="611000", openid="o-bureau", role="bureau")
    await sign_in(app, "o-bureau")
    assert (await app.get("/console/", allow_redirects=False)).headers[
        "Location"
    ] == "/console/complaints"
    assert c.ticket in await (await app.get("/console/complaints")).text()
    assert (await app.get("/console/applications")).status == 403
    csrf = await csrf_of(app, f"/console/complaints/{c.ticket}")
    resp = await app.post(
        f"/console/complaints/{c.ticket}/step", data={"csrf": csrf, "status": "accepted"}
    )
    assert resp.status == 200 and (await Complaint.get(id=c.id)).status == "accepted"
    app.session.cookie_jar.clear()
    await Staff.create(name="孙局", region="330600", openid="o-other-bureau", role="bureau")
    await sign_in(app, "o-other-bureau")
    assert (await app.get(f"/console/complaints/{c.ticket}")).status == 404


async def test_list_pages_go_on_in_order_with_their_cases(app):
    """A page's rows come by id from the list's index, then are loaded with their case: the
    second page goes on where the first stopped, in the list's order."""
    from handlers.console.common import PAGE_SIZE

    now = datetime.now(UTC)
    for i in range(PAGE_SIZE + 5):  # due oldest first, created in the opposite order
        case = await Case.create(
            region=REGION,
            case_no=f"P-{i:02d}",
            kind="civil",
            cause="劳动报酬纠纷",
            beneficiary_name="张三丰",
            beneficiary_phone="13812345678",
            handler_name="李律师",
            handler_org="某律所",
            status="closed",
            closed_on=now.date() - timedelta(days=40),
        )
        await Callback.create(
            case=case,
            region=REGION,
            status="pending_phone",
            due_at=now - timedelta(days=PAGE_SIZE + 5 - i),
        )
    await staff_in(app)
    first = await (await app.get("/console/callbacks")).text()
    order = [first.index(f"P-{i:02d}") for i in range(PAGE_SIZE)]
    assert order == sorted(order) and f"P-{PAGE_SIZE:02d}" not in first
    assert 'rel="next"' in first and "张*丰" in first
    second = await (await app.get("/console/callbacks?page=2")).text()
    rest = [second.index(f"P-{i:02d}") for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert rest == sorted(rest) and "P-00" not in second and 'rel="next"' not in second
    beyond = await app.get("/console/callbacks?page=9")
    assert beyond.status == 200 and "P-" not in await beyond.text()


async def test_today_lists_the_nearest_complaint_deadlines_and_counts_the_rest(app):
    from bot.keys import policy_key
    from handlers.records import digest

    today = datetime.now(UTC).date()
    for i in range(digest.LIST_DUE + 4):
        await Complaint.create(
            ticket=f"90000000{i:02d}",
            region=REGION,
            text="承办律师不联系我",
            received_on=today - timedelta(days=20),
            accept_due=today - timedelta(days=i),  # overdue, the oldest last
        )
    await staff_in(app)
    page = await (await app.get("/console/")).text()
    due = page.split('<ul class="due">')[1].split("</ul>")[0]
    listed = [f"90000000{i:02d}" for i in range(digest.LIST_DUE + 4) if f"90000000{i:02d}" in due]
    assert len(listed) == digest.LIST_DUE and "9000000013" in listed  # the oldest deadlines
    assert "另有 4 件" in page
    f = await digest.collect(
        REGION, "daily", datetime.now(UTC), app.app[policy_key], "Asia/Shanghai"
    )
    assert f.complaints_due_count == digest.LIST_DUE + 4
    assert f"{digest.LIST_DUE + 4}件" in "".join(digest.render(f)[1]).replace(" ", "")
