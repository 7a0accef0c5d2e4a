"""Staff channels end to end: WeChat template or text to bound staff, markdown to the WeCom robot.

Each alert is queued with bot.notify.alert_staff and delivered by the dispatcher to the fake
WeChat server (which also plays the WeCom group robot at fake_wechat.wecom_url).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import create_app
from bot.notify import alert_staff, notify_user
from models.outbox import OutboxMessage, OutboxStatus
from models.people import Staff
from tests.conftest import app_settings, drain_outbox

REGION = "330600"
CUSTOM = "message/custom/send"
TEMPLATE = "message/template/send"
WECOM = "webhook/send"
ID_NUMBER, PHONE = "11010519491231002X", "13812345678"


@pytest.fixture
def app_with(app, aiohttp_client, settings):
    async def make(**update):
        return await aiohttp_client(create_app(settings.model_copy(update=update)))

    return make


async def staff_team() -> None:
    await Staff.create(name="王主任", region=REGION, openid="o-sup", supervisor=True)
    await Staff.create(name="李值班", region=REGION, openid="o-duty")
    await Staff.create(name="停用", region=REGION, openid="o-off", active=False)
    await Staff.create(name="外地", region="610626", openid="o-elsewhere")


async def test_template_to_each_active_staff_and_markdown_to_wecom(app_with, fake_wechat):
    client = await app_with(staff_template_id="tpl-staff", wecom_webhook_url=fake_wechat.wecom_url)
    await staff_team()
    n = await alert_staff(
        app_settings(client),
        region=REGION,
        key="complaint:TS-1",
        title="新投诉",
        lines=["编号 TS-1", "对象：承办人 张*"],
        link="https://records.example/complaints/TS-1",
    )
    assert n == 2
    await drain_outbox(client)
    bodies = fake_wechat.bodies(TEMPLATE)
    assert sorted(b["touser"] for b in bodies) == ["o-duty", "o-sup"]
    for b in bodies:
        assert b["template_id"] == "tpl-staff"
        assert b["url"] == "https://records.example/complaints/TS-1"
        assert b["data"]["first"]["value"] == "新投诉"
        assert b["data"]["keyword1"]["value"] == "编号 TS-1"
        assert b["client_msg_id"].startswith("alert:complaint:TS-1:staff:")
    [robot] = fake_wechat.calls_to(WECOM)
    assert robot.body["msgtype"] == "markdown"
    md = robot.body["markdown"]["content"]
    assert md.startswith("### 新投诉") and "> 编号 TS-1" in md
    assert "[查看详情](https://records.example/complaints/TS-1)" in md
    assert fake_wechat.calls_to(CUSTOM) == []


async def test_without_a_template_staff_get_a_customer_service_text(app, fake_wechat):
    await staff_team()
    await alert_staff(
        app_settings(app),
        region=REGION,
        key="handoff:H-3:late",
        title="人工咨询超时",
        lines=["工单 H-3 已超过 3 分钟"],
        supervisors_only=True,
    )
    await drain_outbox(app)
    [call] = fake_wechat.calls_to(CUSTOM)
    assert call.body["touser"] == "o-sup"
    assert call.body["text"]["content"] == "【人工咨询超时】\n工单 H-3 已超过 3 分钟"
    assert fake_wechat.calls_to(WECOM) == []  # no robot configured


async def test_the_same_alert_queued_twice_arrives_once(app_with, fake_wechat):
    client = await app_with(wecom_webhook_url=fake_wechat.wecom_url)
    await staff_team()
    for _ in range(3):  # a retried request, a re-run job
        await alert_staff(
            app_settings(client),
            region=REGION,
            key="urgent-application:9",
            title="加急申请",
            lines=["#9 欠薪"],
        )
    await drain_outbox(client)
    assert len(fake_wechat.calls_to(CUSTOM)) == 2
    assert len(fake_wechat.calls_to(WECOM)) == 1


async def test_wecom_robot_errors_are_retried_until_it_answers(app_with, fake_wechat):
    client = await app_with(wecom_webhook_url=fake_wechat.wecom_url)
    fake_wechat.http_error_next(WECOM, status=502)
    fake_wechat.fail_next(WECOM, -1)
    await alert_staff(app_settings(client), region=REGION, key="k", title="t", lines=["l"])
    for _ in range(3):
        await drain_outbox(client)
        await OutboxMessage.filter(status=OutboxStatus.PENDING).update(
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
        )
    row = await OutboxMessage.get(channel="wecom")
    assert row.status == OutboxStatus.SENT and row.attempts == 3
    assert [c.body["markdown"]["content"] for c in fake_wechat.calls_to(WECOM)][-1] == "### t\n> l"


async def test_a_wrong_robot_key_fails_visibly_without_retrying(app_with, fake_wechat):
    client = await app_with(wecom_webhook_url=fake_wechat.wecom_url.replace("fake-robot-key", "x"))
    await alert_staff(app_settings(client), region=REGION, key="k", title="t", lines=["l"])
    await drain_outbox(client)
    row = await OutboxMessage.get(channel="wecom")
    assert row.status == OutboxStatus.FAILED and row.last_error.startswith("93000")
    assert "fake-robot-key" not in (row.last_error or "")


async def test_no_id_number_or_phone_leaves_in_any_push(app_with, fake_wechat):
    client = await app_with(
        wecom_webhook_url=fake_wechat.wecom_url,
        staff_template_id="tpl",
        notice_template_id="tpl-notice",
    )
    await staff_team()
    careless = [
        f"申请人 张三 身份证 {ID_NUMBER.lower()}",
        f"电话 +86 {PHONE}",
        "旧证 110105491231002",
    ]
    s = app_settings(client)
    await alert_staff(s, region=REGION, key="a", title=f"回访差评 {PHONE}", lines=careless)
    await notify_user(s, openid="o-user", key="n", text="\n".join(careless))
    fake_wechat.fail_next(CUSTOM, 45015)  # the user's notice goes out as a template too
    for _ in range(2):
        await drain_outbox(client)
    sent = json.dumps([c.body for c in fake_wechat.calls], ensure_ascii=False)
    stored = json.dumps([r.payload for r in await OutboxMessage.all()], ensure_ascii=False)
    for text in (sent, stored):
        assert ID_NUMBER not in text and ID_NUMBER.lower() not in text
        assert PHONE not in text and "110105491231002" not in text
        assert "110105********002x" in text and "138****5678" in text
    assert len(fake_wechat.calls_to(TEMPLATE)) == 3 and len(fake_wechat.calls_to(WECOM)) == 1
