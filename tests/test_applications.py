"""POST/GET /api/v1/applications: filing by a bound agent, idempotency, eligibility, masking."""

from __future__ import annotations

from datetime import timedelta

from tortoise import connections

from models.application import Application, Material
from models.calendar import add_days
from models.outbox import OutboxMessage
from models.people import Staff
from tests.applications_support import (
    ADULT_ID,
    agent_token,
    bearer,
    body,
    file,
    id_number,
    login,
    today,
    years_ago,
)


async def test_agent_files_and_reads_back_masked(app, fake_wechat):
    token, agent = await agent_token(app, fake_wechat)
    resp = await file(app, token)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["status"] == "received"
    assert created["hardship_basis"] == "pledge"
    assert created["urgent"] is False and created["missing_materials"] == []
    assert created["decision_due"] == add_days(today(), 7).isoformat()
    assert created["materials_due"] is None

    got = await (
        await app.get(f"/api/v1/applications/{created['id']}", headers=bearer(token))
    ).json()
    assert got["applicant"]["id_number"] == ADULT_ID[:6] + "*" * 8 + ADULT_ID[-4:]
    assert got["applicant"]["phone"] == "138****5678"
    assert got["applicant"]["name"] == "张*丰"
    assert got["matter_label"] == "请求给付赡养费、抚养费、扶养费"
    assert got["decision"] is None
    assert [m["kind"] for m in got["materials"]] == [
        "id_document",
        "hardship_statement",
        "matter_evidence",
    ]
    row = await Application.get(id=created["id"])
    assert row.agent_id == agent.id and row.channel == "api" and row.region == agent.region
    assert (
        row.pledge["witness_agent_id"] == agent.id and row.pledge["confirmed_by"] == "fingerprint"
    )


async def test_personal_data_is_encrypted_at_rest(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    created = await (await file(app, token)).json()
    raw = await connections.get("default").execute_query_dict(
        "SELECT applicant_id_number, applicant_phone, applicant_name FROM application WHERE id = "
        f"{int(created['id'])}"
    )
    stored = " ".join(str(v) for v in raw[0].values())
    assert ADULT_ID not in stored and "13812345678" not in stored and "张三丰" not in stored


async def test_same_idempotency_key_returns_the_same_application(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    first = await file(app, token, key="retry-1")
    again = await file(app, token, key="retry-1")
    assert first.status == 201 and again.status == 200
    assert (await first.json())["id"] == (await again.json())["id"]
    assert await Application.all().count() == 1


async def test_same_key_with_another_body_is_a_conflict(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    assert (await file(app, token, key="k")).status == 201
    resp = await file(app, token, body(facts="另一件事：工资被拖欠半年，请求支付。"), key="k")
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "idempotency_conflict"
    assert await Application.all().count() == 1


async def test_idempotency_key_is_required(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    resp = await app.post("/api/v1/applications", json=body(), headers=bearer(token))
    assert resp.status == 428
    err = (await resp.json())["error"]
    assert err["code"] == "idempotency_key_required" and "Idempotency-Key" in err["message"]
    resp = await file(app, token, key="x" * 500)
    assert resp.status == 400
    assert await Application.all().count() == 0


async def _fields(resp) -> dict[str, str]:
    assert resp.status == 422, await resp.text()
    err = (await resp.json())["error"]
    assert err["code"] == "validation"
    return err["fields"]


async def test_id_number_mistakes_are_named_and_nothing_is_written(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    good = id_number("19850301")
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    fields = await _fields(await file(app, token, body(**{"applicant.id_number": wrong_check})))
    # a mistyped digit anywhere breaks the check: the message must not blame the last one
    assert "逐位核对" in fields["applicant.id_number"]
    assert "校验位不对" not in fields["applicant.id_number"]
    impossible = id_number("19850230")
    fields = await _fields(await file(app, token, body(**{"applicant.id_number": impossible})))
    assert "出生日期" in fields["applicant.id_number"]
    future = id_number(f"{today().year + 1}0101")
    fields = await _fields(await file(app, token, body(**{"applicant.id_number": future})))
    assert "晚于今天" in fields["applicant.id_number"]
    assert await Application.all().count() == 0
    assert await Material.all().count() == 0


async def test_lower_case_x_and_plus_86_are_accepted(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    data = body(
        **{"applicant.id_number": "11010519491231002x", "applicant.phone": "+86 138-1234-5678"}
    )
    resp = await file(app, token, data)
    assert resp.status == 201, await resp.text()
    row = await Application.get(id=(await resp.json())["id"])
    assert row.applicant_id_number == "11010519491231002X"
    assert row.applicant_phone == "13812345678"


async def test_bad_phone_and_overlong_facts_are_listed_together(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    wrong_check = ADULT_ID[:-1] + ("0" if ADULT_ID[-1] != "0" else "1")
    data = body(
        **{"applicant.phone": "12345", "facts": "很" * 2001, "applicant.id_number": wrong_check}
    )
    fields = await _fields(await file(app, token, data))
    assert "手机号码" in fields["applicant.phone"]
    assert "2000" in fields["facts"]
    assert "applicant.id_number" in fields  # reported with the others, not after a second try


async def test_unknown_matter_and_english_messages(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    resp = await file(app, token, body(matter="divorce"), **{"Accept-Language": "en-US,en;q=0.9"})
    fields = await _fields(resp)
    assert fields["matter"].startswith("Please") or "matter" in fields["matter"].lower()
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in fields["matter"])


async def test_exempt_group_must_fit_the_matter(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    data = body(**{"hardship": {"basis": "exempt", "exempt_category": "migrant_worker"}})
    fields = await _fields(await file(app, token, data))
    assert "不适用" in fields["hardship.exempt_category"]


async def test_elderly_70_plus_checks_age_from_the_id_number(
    app, aiohttp_client, settings, fake_wechat
):
    from bot.app import create_app

    # `app` too: its teardown empties the tables on PostgreSQL
    client = await aiohttp_client(create_app(settings.model_copy(update={"policy": "shaoxing"})))
    token, _ = await agent_token(client, fake_wechat)
    young = id_number(years_ago(41)[:4] + "0615")
    data = body(
        **{
            "applicant.id_number": young,
            "hardship": {"basis": "exempt", "exempt_category": "elderly_70_plus"},
        }
    )
    fields = await _fields(await file(client, token, data))
    assert "70周岁" in fields["hardship.exempt_category"]
    old = body(
        **{
            "applicant.id_number": id_number(years_ago(75)),
            "hardship": {"basis": "exempt", "exempt_category": "elderly_70_plus"},
        }
    )
    resp = await file(client, token, old)
    assert resp.status == 201 and (await resp.json())["hardship_basis"] == "exempt"


async def test_pledge_needs_the_statement(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    fields = await _fields(await file(app, token, body(**{"hardship.statement": ...})))
    assert "经济困难状况说明" in fields["hardship.statement"]
    fields = await _fields(await file(app, token, body(**{"hardship.pledge.accepted": False})))
    assert "hardship.pledge.accepted" in fields


async def test_art32_matter_needs_no_hardship(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    resp = await file(app, token, body(matter="domestic_violence"))
    created = await resp.json()
    assert resp.status == 201 and created["hardship_basis"] == "not_required"
    assert [w["code"] for w in created["warnings"]] == ["hardship.not_needed"]


async def test_missing_materials_are_listed_at_once_with_their_deadline(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    data = body(
        materials=[
            {"kind": "id_document", "status": "provided"},
            {"kind": "hardship_statement", "status": "missing"},
            {"kind": "matter_evidence", "status": "missing"},
        ],
        missing_materials_acknowledged=True,
    )
    created = await (await file(app, token, data)).json()
    assert created["missing_materials"] == ["hardship_statement", "matter_evidence"]
    assert created["materials_due"] == add_days(today(), 15).isoformat()
    assert (
        "经济困难状况说明" in created["notice"]
        and "与所申请法律援助事项有关的材料" in created["notice"]
    )
    assert created["warnings"] == []
    row = await Application.get(id=created["id"])
    assert row.missing_acknowledged_at is not None

    data["missing_materials_acknowledged"] = False
    created = await (await file(app, token, data)).json()
    assert [w["code"] for w in created["warnings"]] == ["materials.not_acknowledged"]


async def test_green_channel_flags_urgent_and_alerts_staff(app, fake_wechat):
    await Staff.create(name="李四", region="330602", openid="o-staff-1")
    await Staff.create(name="外地", region="110105", openid="o-staff-2")
    token, _ = await agent_token(app, fake_wechat)
    wage = body(
        matter="labor_remuneration",
        hardship={"basis": "exempt", "exempt_category": "migrant_worker"},
    )
    created = await (await file(app, token, wage)).json()
    assert created["urgent"] is True
    alerts = await OutboxMessage.filter(kind="alert")
    assert [a.recipient for a in alerts] == ["o-staff-1"]
    assert "张*丰" in alerts[0].payload["text"] and ADULT_ID not in alerts[0].payload["text"]

    soon = body(limitation_deadline=(today() + timedelta(days=3)).isoformat())
    assert (await (await file(app, token, soon)).json())["urgent"] is True
    later = body(limitation_deadline=(today() + timedelta(days=30)).isoformat())
    assert (await (await file(app, token, later)).json())["urgent"] is False


async def test_html_and_sql_are_stored_as_text(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    evil = "<script>alert(1)</script>'; DROP TABLE application; --"
    created = await (await file(app, token, body(facts=evil, opposing_party="<b>x</b>"))).json()
    got = await (
        await app.get(f"/api/v1/applications/{created['id']}", headers=bearer(token))
    ).json()
    assert got["facts"] == evil and got["opposing_party"] == "<b>x</b>"
    assert await Application.all().count() == 1


async def test_malformed_and_shapeless_bodies(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    resp = await app.post(
        "/api/v1/applications",
        data=b"{not json",
        headers=bearer(token, **{"Idempotency-Key": "m1"}),
    )
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "malformed_json"
    fields = await _fields(await file(app, token, {"applicant": "x"}))
    assert {"applicant", "matter", "facts", "hardship"} <= set(fields)
    assert (await app.get("/healthz")).status == 200


async def test_only_bound_agents_file_and_see_their_own(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat, openid="o-wxa-a")
    other, _ = await agent_token(app, fake_wechat, openid="o-wxa-b")
    stranger = (await login(app, fake_wechat, "o-wxa-nobody"))["token"]
    assert (await file(app, stranger)).status == 403
    assert (await app.post("/api/v1/applications", json=body())).status == 401
    created = await (await file(app, token)).json()
    resp = await app.get(f"/api/v1/applications/{created['id']}", headers=bearer(other))
    assert resp.status == 404
    assert (await app.get("/api/v1/applications/abc", headers=bearer(token))).status == 404
    mine = await (await app.get("/api/v1/applications", headers=bearer(other))).json()
    assert mine["items"] == []


async def test_my_applications_are_paginated_newest_first(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    ids = [(await (await file(app, token)).json())["id"] for _ in range(5)]
    page1 = await (await app.get("/api/v1/applications?limit=2", headers=bearer(token))).json()
    assert [i["id"] for i in page1["items"]] == ids[::-1][:2]
    assert page1["items"][0]["applicant_name"] == "张*丰"
    page2 = await (
        await app.get(
            f"/api/v1/applications?limit=2&cursor={page1['next_cursor']}", headers=bearer(token)
        )
    ).json()
    page3 = await (
        await app.get(
            f"/api/v1/applications?limit=2&cursor={page2['next_cursor']}", headers=bearer(token)
        )
    ).json()
    assert [i["id"] for i in page2["items"] + page3["items"]] == ids[::-1][2:]
    assert page3["next_cursor"] is None
    assert (await app.get("/api/v1/applications?limit=0", headers=bearer(token))).status == 422


async def test_concurrent_retries_with_one_key_file_once(app, fake_wechat):
    import asyncio

    token, _ = await agent_token(app, fake_wechat)
    answers = await asyncio.gather(*(file(app, token, key="same") for _ in range(6)))
    statuses = sorted(r.status for r in answers)
    assert statuses == [200] * 5 + [201]
    assert len({(await r.json())["id"] for r in answers}) == 1
    assert await Application.all().count() == 1
