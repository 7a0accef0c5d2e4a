"""Complaints go to the justice bureau (Order 149 Arts. 3, 5), which decides them in chat; the
objection text and clock of Art. 49 (5 days, not working days)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from models.bureau import objection_review_due, region_chain
from models.complaint import Complaint
from models.people import Staff
from models.policy import PRESETS
from tests.conftest import drain_outbox
from tests.test_cases_support import add_staff, center_key, sent_to

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"default_region": "611026"})


async def add_bureau(
    name: str, openid: str, region: str = "611026", unit: str = "柞水县司法局"
) -> Staff:
    return await Staff.create(name=name, region=region, openid=openid, role="bureau", unit=unit)


async def test_complaint_about_a_handler_goes_to_the_bureau_and_the_centre(app, user, fake_wechat):
    await add_staff("王主任", "o-sup", supervisor=True)
    await add_bureau("李科长", "o-bureau")
    reply = await user.say("投诉 承办律师收了我两千元红包")
    c = await Complaint.get()
    assert "柞水县司法局" in reply and "我们会" not in reply and c.bureau == "柞水县司法局"
    await drain_outbox(app)
    [to_bureau] = sent_to(fake_wechat, "o-bureau")
    assert c.ticket in to_bureau and f"受理 {c.ticket}" in to_bureau
    assert sent_to(fake_wechat, "o-sup")  # the centre helps investigate


async def test_complaint_about_the_centre_goes_to_the_bureau_only(app, user, fake_wechat):
    await add_staff("王主任", "o-sup", supervisor=True)
    await add_staff("王芳", "o-staff")
    await add_bureau("李科长", "o-bureau")
    await user.say("投诉")
    await user.say("2")  # 法律援助中心或其工作人员
    await user.say("3")  # 服务态度差
    await user.say("去了三次都说领导不在")
    await user.say("1")
    reply = await user.say("确认")
    c = await Complaint.get()
    assert c.about == "centre" and "柞水县司法局" in reply
    await drain_outbox(app)
    assert sent_to(fake_wechat, "o-bureau")
    assert not sent_to(fake_wechat, "o-sup") and not sent_to(fake_wechat, "o-staff")


async def test_a_county_without_a_bureau_reaches_the_city_bureau(app, user, fake_wechat):
    await add_staff("王主任", "o-sup", supervisor=True)
    await add_bureau("市局", "o-city", region="611000", unit="商洛市司法局")
    await user.say("投诉")
    await user.say("2")
    await user.say("3")
    await user.say("去了三次都说领导不在")
    await user.say("1")
    assert "商洛市司法局" in await user.say("确认")
    await drain_outbox(app)
    assert sent_to(fake_wechat, "o-city") and not sent_to(fake_wechat, "o-sup")
    assert region_chain("611026") == ["611026", "611000", "610000"]


async def test_no_bureau_registered_the_centre_is_told_to_pass_it_on(app, user, fake_wechat):
    await add_staff("王主任", "o-sup", supervisor=True)
    reply = await user.say("投诉 承办律师收了我两千元红包")
    assert "设立法律援助中心的司法局" in reply
    await drain_outbox(app)
    [alert] = sent_to(fake_wechat, "o-sup")
    assert "转交" in alert and "司法局" in alert


async def test_the_bureau_decides_in_chat_and_the_complainant_is_told(
    app, user, make_user, fake_wechat
):
    await add_bureau("李科长", "o-bureau")
    bureau, stranger = make_user("o-bureau"), make_user("o-x")
    await user.say("投诉 承办律师收了我两千元红包")
    c = await Complaint.get()
    listing = await bureau.say("待办投诉")
    assert c.ticket in listing and "受理期限" in listing
    assert "请填写理由" in await bureau.say(f"不予受理 {c.ticket}")
    assert "已受理" in await bureau.say(f"受理 {c.ticket}")
    assert "已办结" in await bureau.say(f"办结 {c.ticket} 经查属实，已责令退还并通报批评")
    c = await Complaint.get()
    assert (c.status, c.result, c.handled_by) == (
        "concluded",
        "经查属实，已责令退还并通报批评",
        "柞水县司法局",
    )
    await drain_outbox(app)
    told = sent_to(fake_wechat, user.openid)
    assert any("已受理" in m for m in told) and any("责令退还" in m for m in told)
    # not a bureau member: the words are ordinary text; another region's bureau sees nothing
    assert "已受理" not in (await stranger.say(f"受理 {c.ticket}") or "")
    await add_bureau("外地", "o-far", region="330602", unit="柯桥区司法局")
    assert "没有找到" in await make_user("o-far").say(f"调查 {c.ticket}")


async def test_the_bureau_is_not_on_the_centre_rota(app, user, make_user, fake_wechat):
    await add_staff("王芳", "o-staff")
    await add_bureau("李科长", "o-bureau")
    await user.say("人工")
    await drain_outbox(app)
    assert sent_to(fake_wechat, "o-staff") and not sent_to(fake_wechat, "o-bureau")


async def test_complaint_api_names_the_bureau_and_the_notify_deadline(app, user):
    await add_bureau("李科长", "o-bureau")
    key = await center_key()
    await user.say("投诉 承办律师收了我两千元红包")
    c = await Complaint.get()
    resp = await app.patch(
        f"/api/v1/center/complaints/{c.ticket}",
        headers=key,
        json={"status": "not_accepted", "reason": "超过投诉期限"},
    )
    body = await resp.json()
    assert resp.status == 200 and body["bureau"] == "柞水县司法局" and body["notify_due"]


@pytest.mark.slow
def test_staff_add_role_bureau(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_DATABASE_URL": f"sqlite://{(tmp_path / 'b.sqlite3').as_posix()}",
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "staff", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = cli(
        "add",
        "--name",
        "李科长",
        "--region",
        "611026",
        "--openid",
        "o-b",
        "--role",
        "bureau",
        "--unit",
        "柞水县司法局",
    )
    assert "added bureau" in out and "柞水县司法局" in out
    assert "bureau" in cli("list")


# --- objections (Art. 49) -------------------------------------------------------------------


def test_objection_review_counts_calendar_days_not_working_days():
    # received on 30 September: the National Day holiday does not stop the clock
    assert objection_review_due(date(2026, 9, 30), PRESETS["national"]) == date(2026, 10, 5)


async def test_objection_reply_says_five_days(user):
    reply = await user.say("投诉 对不予法律援助的决定不服")
    assert "5日内" in reply and "工作日" not in reply
