"""The staff digest: on time, once per region and period, through retries and restarts.

The scheduler is ticked at chosen instants (no sleeping); the digest goes to the fake WeChat
server (staff) and the fake WeCom robot, and what arrives is read back from there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot import scheduler
from bot.app import create_app
from bot.auth import create_center_key
from models.agent import Agent
from models.application import Application, Material
from models.callback import Callback
from models.case import Case
from models.complaint import Complaint
from models.handoff import Handoff
from models.jobs import JobRun
from models.outbox import OutboxMessage
from models.people import Staff
from tests.conftest import drain_outbox

REGION = "610626"
CUSTOM, WECOM = "message/custom/send", "webhook/send"
MONDAY_0831 = datetime(2026, 11, 23, 0, 31, tzinfo=UTC)  # 08:31 in Asia/Shanghai, a Monday
TUESDAY_0829 = datetime(2026, 11, 24, 0, 29, tzinfo=UTC)
TODAY = date(2026, 11, 23)


@pytest.fixture
async def zhashui(app, aiohttp_client, settings, fake_wechat):
    """Zhashui policy (callback target 90%), a WeCom robot, two staff of the region."""
    client = await aiohttp_client(
        create_app(
            settings.model_copy(
                update={
                    "policy": "zhashui",
                    "wecom_webhook_url": fake_wechat.wecom_url,
                    "public_base_url": "https://bot.example.org",
                }
            )
        )
    )
    await Staff.create(name="王主任", region=REGION, openid="o-sup", supervisor=True)
    await Staff.create(name="李值班", region=REGION, openid="o-duty")
    return client


async def seed(now: datetime) -> None:
    """A morning's worth of work in the region, and one thing in another region."""
    agent = await Agent.create(name="周", region=REGION, village="营盘村")

    async def application(received: datetime, due: date, **kw) -> Application:
        return await Application.create(
            region=kw.pop("region", REGION),
            agent=agent,
            channel="api",
            applicant_name="钱某",
            applicant_id_number="11010519491231002X",
            applicant_id_index="i",
            applicant_phone="13900001111",
            applicant_address="a",
            matter="labor_remuneration",
            facts="f",
            hardship_basis="pledge",
            received_at=received,
            decision_due=due,
            **kw,
        )

    await application(now - timedelta(hours=3), TODAY + timedelta(days=7))
    await application(now - timedelta(hours=20), TODAY + timedelta(days=1))
    late = await application(
        now - timedelta(days=9), TODAY - timedelta(days=2), materials_due=TODAY - timedelta(days=1)
    )
    await Material.create(application=late, kind="hardship_statement", status="missing")
    await application(now - timedelta(days=2), TODAY, status="granted")
    await application(now - timedelta(hours=1), TODAY, region="330600")

    async def case(no: str, closed: date) -> Case:
        return await Case.create(
            region=REGION,
            case_no=no,
            kind="civil",
            cause="赡养纠纷",
            beneficiary_name="赵大爷",
            beneficiary_phone="13700000000",
            handler_name="陈",
            handler_org="柞水律所",
            status="closed",
            closed_on=closed,
        )

    closed = [await case(f"Z-{i}", date(2026, 10, 1 + i)) for i in range(5)]
    await case("Z-recent", TODAY - timedelta(days=1))  # callback not due yet: not counted
    for i, c in enumerate(closed[:3]):
        await Callback.create(
            case=c,
            region=REGION,
            due_at=now - timedelta(days=10),
            status="completed",
            channel="wechat",
            fee_charged=False,
            negligent=False,
            satisfied=i != 2,
            answered_at=now - timedelta(hours=2 + i),
        )
    await Callback.create(case=closed[3], region=REGION, due_at=now, status="invited")
    await Callback.create(case=closed[4], region=REGION, due_at=now, status="pending_phone")

    await Complaint.create(
        ticket="2611200001",
        region=REGION,
        text="x",
        received_on=TODAY,
        accept_due=TODAY + timedelta(days=1),
    )
    await Complaint.create(
        ticket="2610010002",
        region=REGION,
        text="y",
        status="investigating",
        received_on=date(2026, 10, 1),
        accept_due=date(2026, 10, 9),
        accepted_on=date(2026, 10, 5),
        conclude_due=date(2026, 12, 4),
    )
    await Complaint.create(
        ticket="2609010003",
        region=REGION,
        text="z",
        status="concluded",
        received_on=date(2026, 9, 1),
        accept_due=date(2026, 9, 8),
    )

    await Handoff.create(
        openid="o-u",
        region=REGION,
        opened_at=now - timedelta(hours=5),
        due_at=now - timedelta(hours=5) + timedelta(minutes=3),
        first_reply_at=now - timedelta(hours=4),
    )  # an hour late
    await Handoff.create(
        openid="o-v",
        region=REGION,
        opened_at=now - timedelta(hours=6),
        due_at=now - timedelta(hours=6) + timedelta(minutes=3),
        first_reply_at=now - timedelta(hours=6) + timedelta(minutes=1),
    )


def digests(fake_wechat) -> tuple[list[str], list[str]]:
    texts = [
        c.body["text"]["content"]
        for c in fake_wechat.calls_to(CUSTOM)
        if "汇总" in c.body["text"]["content"]
    ]
    robot = [
        c.body["markdown"]["content"]
        for c in fake_wechat.calls_to(WECOM)
        if "汇总" in c.body["markdown"]["content"]
    ]
    return texts, robot


async def test_morning_digest_has_the_figures_and_arrives_once(zhashui, fake_wechat):
    await seed(MONDAY_0831)
    await scheduler.tick(zhashui.app, MONDAY_0831)
    await drain_outbox(zhashui)
    texts, robot = digests(fake_wechat)
    daily = [x for x in texts if "每日汇总" in x]
    assert len(daily) == 2 and len([x for x in robot if "每日汇总" in x]) == 1
    text = daily[0]
    assert text.startswith(f"【每日汇总 {REGION} 11-23】")
    assert (
        "申请：新收2件，待决定3件，超期1件；最近到期 #3（11-21）、#2（11-24）、#1（11-30）" in text
    )
    assert "容缺材料逾期未补：1件" in text
    assert "回访：完成3件，待回访2件（其中待电话1件）；今年回访率60%（3/5），目标90%" in text
    assert "满意度：2/3满意" in text
    assert "投诉：未办结2件（待受理1件，办理中1件）；临近期限1件 2611200001（11-24）" in text
    assert "人工咨询超时未回复：1次" in text
    assert "https://bot.example.org/console/?period=daily&date=2026-11-23" in text
    assert "11010519491231002X" not in text and "13900001111" not in text
    assert len(text.splitlines()) <= 9  # a phone screen
    # Monday: the weekly digest too, once.
    assert len([x for x in texts if "每周汇总" in x]) == 2

    for later in (MONDAY_0831 + timedelta(minutes=5), MONDAY_0831 + timedelta(hours=3)):
        await scheduler.tick(zhashui.app, later)
        await drain_outbox(zhashui)
    assert digests(fake_wechat) == (texts, robot)


async def test_nothing_before_the_policy_time(zhashui, fake_wechat):
    await scheduler.tick(zhashui.app, TUESDAY_0829)
    await drain_outbox(zhashui)
    assert digests(fake_wechat) == ([], [])
    await scheduler.tick(zhashui.app, TUESDAY_0829 + timedelta(minutes=5))
    await drain_outbox(zhashui)
    texts, robot = digests(fake_wechat)
    assert len(texts) == 2 and all("每日汇总" in x for x in texts) and len(robot) == 1


async def test_a_worker_dying_after_queueing_resends_nothing(zhashui, fake_wechat):
    await scheduler.tick(zhashui.app, MONDAY_0831)
    await JobRun.filter(name__startswith="digest").delete()  # as if it died before marking
    await scheduler.tick(zhashui.app, MONDAY_0831 + timedelta(minutes=10))
    fake_wechat.fail_next(CUSTOM, -1)  # and WeChat is busy once
    for _ in range(3):
        await drain_outbox(zhashui)
        await OutboxMessage.filter(status="pending").update(  # the backoff has passed
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
        )
    texts, _ = digests(fake_wechat)
    assert len(texts) == 2 * 2 + 1  # daily and weekly to two staff; one busy answer retried
    assert (
        sorted(await OutboxMessage.filter(kind="digest").values_list("status", flat=True))
        == ["sent"] * 6
    )


async def test_regions_with_only_a_centre_key_get_a_wecom_digest(zhashui, fake_wechat):
    await create_center_key("330600")
    await scheduler.tick(zhashui.app, TUESDAY_0829 + timedelta(hours=1))
    await drain_outbox(zhashui)
    _, robot = digests(fake_wechat)
    assert sorted(r.split("\n")[0] for r in robot) == [
        "### 每日汇总 330600 11-24",
        f"### 每日汇总 {REGION} 11-24",
    ]


async def test_digest_figures_as_json_for_the_link(zhashui):
    key = await create_center_key(REGION)
    await seed(datetime.now(UTC))
    resp = await zhashui.get(
        "/api/v1/center/digest",
        params={"period": "weekly"},
        headers={"X-Api-Key": key, "Accept-Language": "en"},
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["region"] == REGION and body["title"].startswith("Weekly digest")
    assert body["figures"]["awaiting"] == 3 and body["figures"]["callbacks_phone"] == 1
    assert body["figures"]["target"] == 0.9
    bad = await zhashui.get(
        "/api/v1/center/digest", params={"period": "hourly"}, headers={"X-Api-Key": key}
    )
    assert bad.status == 422


async def test_the_english_catalog_renders_too(zhashui):
    from bot.keys import policy_key
    from handlers.records import digest

    f = await digest.collect(REGION, "daily", MONDAY_0831, zhashui.app[policy_key], "Asia/Shanghai")
    title, lines = digest.render(f, "en")
    assert title == f"Daily digest {REGION} 11-23"
    assert lines[0].startswith("Applications: 0 new")
