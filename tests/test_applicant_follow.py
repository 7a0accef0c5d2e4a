"""The applicant follows their own application: the agent's QR code, one openid per application,
the decision, the handler, the closing and the callback without a closing QR; termination with
its document and notices; objections in chat routed to the bureau and answered."""

from __future__ import annotations

from datetime import timedelta

from handlers.document_render import text_of
from models.case import Case
from models.follow import ApplicantInvitation
from models.people import Staff
from models.termination import Objection
from tests.applications_support import REGION, bearer
from tests.assignment_support import Centre, filed, new_filer
from tests.test_cases_support import add_staff, case_body, next_created, pushes_to, tick


async def invite(client, token: str, app_id: int) -> dict:
    resp = await client.post(
        f"/api/v1/applications/{app_id}/applicant-invitation", headers=bearer(token)
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_applicant_journey_end_to_end(app, fake_wechat, make_user):
    c = await Centre.of(app)
    org = await c.org("甲律师事务所", phone="0575-8512345")
    await c.handler(org, "李一")
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    inv = await invite(app, token, app_id)
    assert inv["scene"].startswith("app:") and inv["qr_url"] and inv["expires_at"]
    applicant = make_user("o-applicant-1")
    reply = await applicant.event("SCAN", inv["scene"], created=next_created())
    assert "您已关注法律援助申请" in reply and "等待中心审查" in reply
    stranger = make_user("o-stranger")
    assert "已经由另一个微信号关注" in await stranger.event(
        "SCAN", inv["scene"], created=next_created()
    )
    assert "已在关注" in await applicant.event("SCAN", inv["scene"], created=next_created())

    await c.decide(app_id, case_no="绍援2026-3")
    texts = await pushes_to("o-applicant-1")
    assert any("已决定给予法律援助" in x for x in texts)
    assigned = next(x for x in texts if "承办人员已指派" in x)
    assert "李一" in assigned and "甲律师事务所" in assigned and "0575-8512345" in assigned
    progress = await applicant.say("查询进度")
    assert f"第{app_id}号" in progress

    # the centre's records system sends the case; it closes; the callback reaches the follower
    body = case_body(
        region=REGION,
        application_id=app_id,
        status="closed",
        closed_on=(c_today() - timedelta(days=5)).isoformat(),
    )
    resp = await app.put("/api/v1/center/cases/绍援2026-3", json=body, headers=c.h)
    assert resp.status == 200, await resp.text()
    assert (await Case.get(case_no="绍援2026-3")).openid == "o-applicant-1"
    assert any("已结案" in x for x in await pushes_to("o-applicant-1"))
    await tick(app, _daytime())
    assert any("回访" in x for x in (await pushes_to("o-applicant-1"))[-1:])


def c_today():
    from models.calendar import local_today

    return local_today()


def _daytime():
    from tests.test_cases_support import local

    return local(c_today(), 10)


async def test_refusal_with_reasons_then_objection_reviewed(app, fake_wechat, make_user):
    c = await Centre.of(app)
    await Staff.create(name="司法局审查员", region=REGION, openid="o-bureau-1", role="bureau")
    await add_staff("中心值班员", "o-centre-1", region=REGION)
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    inv = await invite(app, token, app_id)
    applicant = make_user("o-applicant-2")
    await applicant.event("SCAN", inv["scene"], created=next_created())
    assert "没有可以提出异议" in await applicant.say("异议")
    await c.decide(app_id, "refused", reason="家庭收入高于当地标准")
    refusal = next(x for x in await pushes_to("o-applicant-2") if "不予法律援助" in x)
    assert "家庭收入高于当地标准" in refusal and "异议" in refusal and "5日" in refusal
    assert "请写明您的异议" in await applicant.say("异议")
    assert "请写4到1000个字" in await applicant.say("不服")
    filed_reply = await applicant.say("我家实际收入很低，请求复查")
    assert "已转交司法局" in filed_reply
    obj = await Objection.get(openid="o-applicant-2")
    assert obj.review_due == c_today() + timedelta(days=5)
    assert any("新的异议" in x for x in await pushes_to("o-bureau-1"))
    assert not any("新的异议" in x for x in await pushes_to("o-centre-1"))  # the bureau decides
    assert "正在由司法局审查" in await applicant.say("异议")
    listed = await c.call("GET", "/api/v1/center/objections", 200)
    assert listed["items"][0]["target"] == "refusal"
    await c.call(
        "POST",
        f"/api/v1/center/objections/{obj.id}/review",
        200,
        json={"decision": "corrected", "note": "请中心重新审查"},
    )
    assert any("责令法律援助机构改正" in x for x in await pushes_to("o-applicant-2"))
    again = await c.call(
        "POST", f"/api/v1/center/objections/{obj.id}/review", 409, json={"decision": "upheld"}
    )
    assert again["error"]["code"] == "already_reviewed"


async def test_termination_document_and_notices(app, fake_wechat, make_user):
    c = await Centre.of(app)
    org = await c.org("甲律师事务所")
    await c.handler(org, "李一")
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    inv = await invite(app, token, app_id)
    applicant = make_user("o-applicant-3")
    await applicant.event("SCAN", inv["scene"], created=next_created())
    await c.decide(app_id, case_no="绍援2026-9")
    resp = await app.put(
        "/api/v1/center/cases/绍援2026-9",
        headers=c.h,
        json=case_body(region=REGION, application_id=app_id, status="in_progress", closed_on=None),
    )
    assert resp.status == 200, await resp.text()
    bad = await c.call(
        "POST", "/api/v1/center/cases/绍援2026-9/termination", 422, json={"reason": "bored"}
    )
    assert "reason" in bad["error"]["fields"]
    out = await c.call(
        "POST",
        "/api/v1/center/cases/绍援2026-9/termination",
        201,
        json={"reason": "own_lawyer", "note": "受援人已自行委托律师。"},
    )
    assert out["status"] == "terminated" and "自行委托" in out["reason_text"]
    assert "援终" in out["document"]["number"]
    data = await (await app.get(out["document"]["url"], headers=c.h)).read()
    text = text_of(data)
    assert "终止法律援助决定书" in text and "第四十八条" in text and "张三丰" in text
    assert any("终止法律援助" in x and "自行委托" in x for x in await pushes_to("o-applicant-3"))
    (a,) = await c.assignments(app_id)
    assert a["status"] == "ended"
    docs = (await c.call("GET", f"/api/v1/center/applications/{app_id}/documents", 200))["items"]
    assert "termination" in [d["kind"] for d in docs]
    again = await c.call(
        "POST", "/api/v1/center/cases/绍援2026-9/termination", 409, json={"reason": "other"}
    )
    assert again["error"]["code"] == "case_ended"
    assert "请写明您的异议" in await applicant.say("异议")


async def test_invitation_is_the_agents_own(app, fake_wechat):
    token, _ = await new_filer(app, fake_wechat)
    other_token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    resp = await app.post(
        f"/api/v1/applications/{app_id}/applicant-invitation", headers=bearer(other_token)
    )
    assert resp.status == 404
    inv = await invite(app, token, app_id)
    token_part = inv["scene"].split(":", 1)[1]
    resp = await app.get(f"/api/v1/applicant-invitations/{token_part}", allow_redirects=False)
    assert resp.status == 302 and "showqrcode" in resp.headers["Location"]
    assert (
        await app.get("/api/v1/applicant-invitations/nope", allow_redirects=False)
    ).status == 404
    assert await ApplicantInvitation.filter(application_id=app_id).count() == 1
